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

/** A stored total: a decimal string, or a number written before totals were strings. */
export const totalOf = (stored: unknown): bigint => {
  if (typeof stored === 'string' && decimal.test(stored)) return BigInt(stored);
  assert.ok(typeof stored === 'number' && Number.isSafeInteger(stored), `a stored total is a decimal string: ${String(stored)}`);
  return BigInt(stored);
};

/** A total as it is stored and served: its decimal string. */
export const totalText = (total: bigint): string => total.toString();
