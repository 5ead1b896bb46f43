/** First and last pause of a backoff: doubling from `minMs` up to `maxMs`. */
export interface BackoffLimits {
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * The pause before the next attempt after `failures` failures in a row: none before the first, then
 * `minMs`, doubling with each further failure up to `maxMs`. One rule for the projector's
 * resubscriptions and the expiry scheduler's rounds.
 */
export const backoffMs = (failures: number, limits: BackoffLimits): number =>
  failures <= 0 ? 0 : Math.min(limits.maxMs, limits.minMs * 2 ** Math.min(failures - 1, 30));
