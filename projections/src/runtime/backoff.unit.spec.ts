import { describe, expect, it } from 'vitest';
import { backoffMs } from './backoff.js';

describe('backoffMs', () => {
  it('is none before a failure, then doubles from the first pause up to the last', () => {
    const limits = { minMs: 100, maxMs: 10_000 };
    expect([0, 1, 2, 3, 7, 8, 9, 1000].map((failures) => backoffMs(failures, limits))).toEqual([
      0, 100, 200, 400, 6400, 10_000, 10_000, 10_000,
    ]);
  });
});
