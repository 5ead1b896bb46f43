import { describe, expect, it } from 'vitest';
import { consumerLimits } from './limits.js';
import { retryDelayMs, retryPolicy } from './retry.js';

describe('handler retry backoff', () => {
  it('doubles from the base and stays at the cap, however many attempts', () => {
    const policy = retryPolicy({ attemptsMax: 20, backoffMsBase: 100, backoffMsMax: 1_000 });
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, policy))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(retryDelayMs(10_000, policy)).toBe(1_000);
    expect(Number.isFinite(retryDelayMs(Number.MAX_SAFE_INTEGER, policy))).toBe(true);
  });

  it('fills in the defaults and refuses a policy outside the limits', () => {
    expect(retryPolicy()).toEqual({
      attemptsMax: consumerLimits.handlerAttemptsDefault,
      backoffMsBase: consumerLimits.retryBackoffMsBaseDefault,
      backoffMsMax: consumerLimits.retryBackoffMsMaxDefault,
    });
    expect(() => retryPolicy({ attemptsMax: 0 })).toThrow(/attemptsMax/);
    expect(() => retryPolicy({ attemptsMax: consumerLimits.handlerAttemptsMax + 1 })).toThrow(/attemptsMax/);
    expect(() => retryPolicy({ attemptsMax: 1.5 })).toThrow(/attemptsMax/);
    expect(() => retryPolicy({ backoffMsBase: 10, backoffMsMax: 5 })).toThrow(/backoffMsMax/);
    expect(() => retryPolicy({ backoffMsMax: consumerLimits.retryBackoffMsMaxBound + 1 })).toThrow(/backoffMsMax/);
    expect(() => retryDelayMs(0, retryPolicy())).toThrow(/1-based/);
  });
});
