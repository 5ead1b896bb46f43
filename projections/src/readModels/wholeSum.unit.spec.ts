import { describe, expect, it } from 'vitest';
import { WholeSum } from './totals.js';

const max = Number.MAX_SAFE_INTEGER;

/** The sum of `amounts` added to `total` through a WholeSum. */
const summed = (total: bigint, amounts: readonly number[]): bigint => {
  const sum = new WholeSum();
  for (const amount of amounts) sum.add(amount);
  return sum.addTo(total);
};

describe('WholeSum', () => {
  it('adds whole amounts exactly while the sum is a safe integer', () => {
    expect(summed(0n, [])).toBe(0n);
    expect(summed(10n, [1, -3, 7])).toBe(15n);
    expect(summed(-(2n ** 70n), [max, -1])).toBe(-(2n ** 70n) + BigInt(max) - 1n);
  });

  it('stays exact when the running sum leaves the safe range, either way, and comes back', () => {
    expect(summed(0n, [max, 1])).toBe(2n ** 53n);
    expect(summed(0n, [max, max, max, 3])).toBe(3n * BigInt(max) + 3n);
    expect(summed(0n, [-max, -max, 5])).toBe(-2n * BigInt(max) + 5n);
    expect(summed(0n, [max, 2, -max, -2, max, max])).toBe(2n * BigInt(max));
    // 10^9 per event (the ledger's limit) many times past 2^53, against a bigint reference.
    const amounts = Array.from({ length: 20_000 }, (_, i) => (i % 7 === 0 ? -1 : 1) * (max - (i % 1000)));
    expect(summed(7n, amounts)).toBe(amounts.reduce((sum, a) => sum + BigInt(a), 7n));
  });

  it('refuses an amount that is not a safe integer', () => {
    const sum = new WholeSum();
    expect(() => sum.add(0.5)).toThrow(/whole amount/);
    expect(() => sum.add(2 ** 53)).toThrow(/whole amount/);
  });
});
