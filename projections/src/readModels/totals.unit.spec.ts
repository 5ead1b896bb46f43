import { describe, expect, it } from 'vitest';
import { sortKeyOf, sortKeyText, totalOf, totalText } from './totals.js';

const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('sort keys (totals a ranking is ordered by)', () => {
  const values = [
    0n,
    1n,
    9n,
    10n,
    99n,
    100n,
    2n ** 53n - 1n,
    2n ** 53n,
    2n ** 53n + 1n,
    10n ** 17n,
    10n ** 27n,
    10n ** 32n - 1n,
    -1n,
    -9n,
    -10n,
    -(2n ** 53n) - 1n,
  ];

  it('sort as their values do, byte by byte (the order both stores use), across digit counts and 2^53', () => {
    const keys = values.map(sortKeyText);
    const byValue = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(sortKeyText);
    expect([...keys].sort(byBytes)).toEqual(byValue);
    for (const key of keys) expect(key.replace(/^-/, '')).toHaveLength(32);
  });

  it('read back exactly, and numbers stored before sort keys are read too', () => {
    for (const value of values) expect(sortKeyOf(sortKeyText(value))).toBe(value);
    expect(sortKeyOf(42)).toBe(42n);
    expect(sortKeyText(2n ** 53n + 1n)).toBe('00000000000000009007199254740993');
  });

  it('plain totals are decimal strings, exact past 2^53', () => {
    expect(totalText(2n ** 53n + 1n)).toBe('9007199254740993');
    expect(totalOf('9007199254740993')).toBe(2n ** 53n + 1n);
    expect(totalOf(7)).toBe(7n);
  });
});
