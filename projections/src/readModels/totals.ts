import assert from 'node:assert/strict';

/**
 * Totals that nothing bounds — the platform and clan accounts' balances, lifetime sums in the services'
 * read models — are kept exactly: bigint in memory, a decimal string in the store (JSON has no bigint,
 * and MongoDB's Decimal128 or 64-bit integers would tie the port to one engine) and in answers. Adding to
 * one is never a reason for a projection to stop: the only assertion is on the amount an event moves,
 * which the ledger bounds (`accountLimits.amountPerCommandMax`).
 */

const decimal = /^-?(0|[1-9][0-9]*)$/;

/** `total` plus one event's whole amount (signed). */
export const addToTotal = (total: bigint, amount: number): bigint => {
  assert.ok(Number.isSafeInteger(amount), `an event moves a whole amount: ${amount}`);
  return total + BigInt(amount);
};

/**
 * A sum of many whole amounts kept as a number while it is a safe integer (number additions are
 * several times cheaper than bigint ones, which allocate), moved into a bigint before it would leave
 * that range: exact at every size. A fold adds a batch's amounts here and its total once (`addTo`).
 */
export class WholeSum {
  #small = 0;
  #large = 0n;

  add(amount: number): void {
    assert.ok(Number.isSafeInteger(amount), `an event moves a whole amount: ${amount}`);
    const sum = this.#small + amount;
    // Both safe integers: the float sum is exact when it is itself safe, and unsafe when the exact one is.
    if (Number.isSafeInteger(sum)) this.#small = sum;
    else {
      this.#large += BigInt(this.#small) + BigInt(amount);
      this.#small = 0;
    }
  }

  /** `total` plus everything added. */
  addTo(total: bigint): bigint {
    return total + this.#large + BigInt(this.#small);
  }
}

/** A stored total: a decimal string, or a number written before totals were strings. */
export const totalOf = (stored: unknown): bigint => {
  if (typeof stored === 'string' && decimal.test(stored)) return BigInt(stored);
  assert.ok(typeof stored === 'number' && Number.isSafeInteger(stored), `a stored total is a decimal string: ${String(stored)}`);
  return BigInt(stored);
};

/** A total as it is stored and served: its decimal string. */
export const totalText = (total: bigint): string => total.toString();

/**
 * Totals a ranking is ordered by (scores, a clan contributor's total) are stored as sort keys: both
 * engines order strings by their bytes, so a fixed-width decimal string sorts as its value does. 32
 * digits hold any total the log can make with room to spare: fewer than 2^53 events (positions are
 * safe integers), each moving at most 10^9 credits (`accountLimits.amountPerCommandMax`), weighted
 * at most 100 by a score formula, is below 10^27. A negative total (none of today's formulas makes
 * one) is `-` and its complement to 10^32, which sorts before every non-negative key and in value order
 * among negative ones.
 */
export const sortKeyDigits = 32;
const sortKeyModulus = 10n ** BigInt(sortKeyDigits);
const sortKeyPattern = /^-?[0-9]+$/;

/** A total as a sort key (fixed-width decimal string). */
export const sortKeyText = (total: bigint): string =>
  total >= 0n
    ? total.toString().padStart(sortKeyDigits, '0')
    : `-${(sortKeyModulus + total).toString().padStart(sortKeyDigits, '0')}`;

/** A stored sort key back to its total; a number written before sort keys is read as well. */
export const sortKeyOf = (stored: unknown): bigint => {
  if (typeof stored === 'string' && sortKeyPattern.test(stored))
    return stored.startsWith('-') ? BigInt(stored.slice(1)) - sortKeyModulus : BigInt(stored);
  return totalOf(stored);
};
