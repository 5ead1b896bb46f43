import { MongoBulkWriteError, MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ReadModelStoreUnavailableError } from '../errors.js';
import { translate } from './mongoReadModelStore.js';

/** Which driver errors mean "try again later" (no server runs here; the errors are the driver's own classes). */
describe('MongoDB adapter: errors that mean the server is out of reach', () => {
  it.each([
    ['a network error', new MongoNetworkError('connection reset')],
    ['a primary that stepped down', new MongoServerError({ message: 'stepped down', code: 189 })],
    ['a legacy not-primary answer', new MongoServerError({ message: 'not master', code: 10058 })],
    ['an operation out of time', new MongoServerError({ message: 'time limit', code: 262 })],
    ['a write concern that timed out', new MongoServerError({ message: 'waiting for replication timed out', code: 64 })],
    ['any error labelled retryable', new MongoServerError({ message: 'x', code: 1, errorLabels: ['RetryableWriteError'] })],
  ])('%s is ReadModelStoreUnavailableError', (_name, error) => {
    expect(translate(error)).toBeInstanceOf(ReadModelStoreUnavailableError);
  });

  it('a network error inside a bulk write too, and other server errors stay as they are', () => {
    const bulk = new MongoBulkWriteError(
      { message: 'bulk', code: 6, errorResponse: new MongoNetworkError('reset') } as never,
      { insertedCount: 0 } as never,
    );
    Object.assign(bulk, { errorResponse: new MongoNetworkError('reset') });
    expect(translate(bulk)).toBeInstanceOf(ReadModelStoreUnavailableError);
    const duplicate = new MongoServerError({ message: 'E11000 duplicate key', code: 11000 });
    expect(translate(duplicate)).toBe(duplicate);
  });
});
