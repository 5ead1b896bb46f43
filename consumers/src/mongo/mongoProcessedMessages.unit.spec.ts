import { MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { isDuplicateKey } from './mongoProcessedMessages.js';

/** No server runs here; the errors are the driver's own classes. */
describe('MongoDB processed messages: what counts as "recorded already"', () => {
  it('is the duplicate-key error of the unique _id index, and nothing else', () => {
    expect(isDuplicateKey(new MongoServerError({ message: 'E11000 duplicate key error', code: 11000 }))).toBe(true);
    expect(isDuplicateKey(new MongoServerError({ message: 'write conflict', code: 112 }))).toBe(false);
    expect(isDuplicateKey(new MongoNetworkError('connection reset'))).toBe(false);
    expect(isDuplicateKey(Object.assign(new Error('E11000'), { code: 11000 }))).toBe(false);
  });
});
