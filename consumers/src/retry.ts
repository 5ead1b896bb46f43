import assert from 'node:assert/strict';
import { consumerLimits } from './limits.js';

/** How a failing handler is retried before its message is dead-lettered. */
export interface RetryPolicy {
  /** Handler attempts in all, the first included (1 = never retry). */
  readonly attemptsMax: number;
  readonly backoffMsBase: number;
  readonly backoffMsMax: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attemptsMax: consumerLimits.handlerAttemptsDefault,
  backoffMsBase: consumerLimits.retryBackoffMsBaseDefault,
  backoffMsMax: consumerLimits.retryBackoffMsMaxDefault,
};

/** Fills in and checks a policy; a value out of bounds is a programmer error. */
export const retryPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => {
  const policy = { ...defaultRetryPolicy, ...overrides };
  assert.ok(
    Number.isSafeInteger(policy.attemptsMax) &&
      policy.attemptsMax >= 1 &&
      policy.attemptsMax <= consumerLimits.handlerAttemptsMax,
    `attemptsMax must be an integer in 1..${consumerLimits.handlerAttemptsMax}`,
  );
  assert.ok(Number.isSafeInteger(policy.backoffMsBase) && policy.backoffMsBase >= 0, 'backoffMsBase must be an integer ≥ 0');
  assert.ok(
    Number.isSafeInteger(policy.backoffMsMax) &&
      policy.backoffMsMax >= policy.backoffMsBase &&
      policy.backoffMsMax <= consumerLimits.retryBackoffMsMaxBound,
    `backoffMsMax must be an integer in backoffMsBase..${consumerLimits.retryBackoffMsMaxBound}`,
  );
  return policy;
};

/** The wait after failed attempt `attempt` (1-based): base × 2^(attempt − 1), never above the cap. */
export const retryDelayMs = (attempt: number, policy: RetryPolicy): number => {
  assert.ok(Number.isSafeInteger(attempt) && attempt >= 1, 'attempt is 1-based');
  // 2^31 already exceeds any allowed cap; stopping the exponent there keeps the product finite.
  const exponent = Math.min(attempt - 1, 31);
  return Math.min(policy.backoffMsMax, policy.backoffMsBase * 2 ** exponent);
};
