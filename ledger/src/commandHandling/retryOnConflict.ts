import { setTimeout as delay } from 'node:timers/promises';
import { StreamRevisionConflictError } from '../eventStore/errors.js';

/** Raised when the stream kept moving under the command for `appendAttemptsMax` attempts (HTTP 409). */
export class ConcurrencyRetriesExhaustedError extends Error {
  readonly type = 'concurrency_retries_exhausted' as const;
  constructor(
    readonly stream: string,
    attemptsMax: number,
  ) {
    super(`stream ${stream}: gave up after ${attemptsMax} conflicting attempts`);
    this.name = 'ConcurrencyRetriesExhaustedError';
  }
}

export interface ConflictRetry<T> {
  readonly stream: string;
  readonly attemptsMax: number;
  /** Upper bound of the random pause before the next attempt. */
  readonly backoffMsMax: number;
  /** One attempt; it throws StreamRevisionConflictError when another writer moved the stream. */
  readonly attempt: () => Promise<T>;
  /** Runs after each conflict (and its pause), before the next attempt; an answer here ends the retry. */
  readonly afterConflict: () => Promise<T | undefined>;
  /** Runs when the attempts are exhausted, before ConcurrencyRetriesExhaustedError is thrown. */
  readonly onExhausted: () => void;
}

/**
 * Optimistic concurrency's retry: runs `attempt` until it does not conflict, at most `attemptsMax`
 * times. Any other error ends the retry at once. The jittered pause breaks the lockstep of two
 * processes that keep colliding on one hot account.
 */
export const retryOnConflict = async <T>(retry: ConflictRetry<T>): Promise<T> => {
  for (let attempt = 1; attempt <= retry.attemptsMax; attempt++) {
    try {
      return await retry.attempt();
    } catch (error) {
      if (!(error instanceof StreamRevisionConflictError)) throw error;
      await delay(Math.random() * Math.min(retry.backoffMsMax, 2 ** attempt));
      const answered = await retry.afterConflict();
      if (answered !== undefined) return answered;
    }
  }
  retry.onExhausted();
  throw new ConcurrencyRetriesExhaustedError(retry.stream, retry.attemptsMax);
};
