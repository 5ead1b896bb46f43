import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../eventStore/eventStore.js';
import { canonicalJson } from './canonicalJson.js';

/** The definition, written plainly: JSON of a deep copy whose objects have their keys in code-unit order. */
const reference = (value: JsonValue): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((key) => `${JSON.stringify(key)}:${reference(value[key] as JsonValue)}`).join(',')}}`;
};

describe('canonicalJson', () => {
  it('equals the plain definition for any JSON value (odd keys, unicode, nesting, integer-like keys)', () => {
    const key = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('0', '10', '2', '__proto__', 'a"b'));
    const json = fc.letrec<{ value: JsonValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.integer(),
        fc.string({ unit: 'grapheme' }),
        fc.array(tie('value'), { maxLength: 5 }),
        fc.dictionary(key, tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    fc.assert(
      fc.property(json, (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
        // And it is JSON that reads back as an equal value.
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });

  it('does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } })).toBe(
      canonicalJson({ a: { c: 'x', d: [1, { y: 2, z: 1 }] }, b: 1 }),
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('refuses NaN and Infinity (a hash over them would not survive a round trip)', () => {
    expect(() => canonicalJson({ amount: Number.NaN })).toThrow(/NaN or Infinity/);
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(/NaN or Infinity/);
  });
});
