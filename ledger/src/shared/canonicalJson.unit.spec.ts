import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../eventStore/eventStore.js';
import { canonicalJson, canonicalObject } from './canonicalJson.js';
import { eventHash, eventHashInput } from './hashChain.js';

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

  it('sorts objects of many keys too (past the insertion sort), and leaves out the key it is told to', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('0', '10', '2', 'hash', 'a"b'));
    const flat = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string());
    fc.assert(
      fc.property(
        fc.dictionary(key, flat, { minKeys: 20, maxKeys: 60 }),
        fc.constantFrom(undefined, 'hash', '0'),
        (value, without) => {
          const copy: Record<string, JsonValue> = { ...value };
          if (without !== undefined) delete copy[without];
          expect(canonicalObject(value, without)).toBe(reference(copy));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('hashes an event over the canonical JSON of { stream, revision, type, data, metadata less its hash }', () => {
    const json = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>;
    const object = fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('hash', 'prevHash', '0')), json, { maxKeys: 12 });
    fc.assert(
      fc.property(fc.string(), fc.nat(), fc.string(), object, object, (stream, revision, type, data, metadata) => {
        const { hash: _left, ...rest } = metadata;
        const plain = reference({ stream, revision, type, data, metadata: rest });
        expect(eventHashInput({ stream, revision, type, data, metadata })).toBe(plain);
        expect(eventHash({ stream, revision, type, data, metadata })).toBe(createHash('sha256').update(plain).digest('hex'));
      }),
      { numRuns: 300 },
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
