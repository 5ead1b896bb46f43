import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accountEventTypes, eventDataSchemas, validateAccountEvent, type AccountEventType } from './events.js';
import { accountLimits } from './limits.js';

/**
 * `validateAccountEvent` runs the schemas compiled ahead of time (`z.compile`); these properties hold
 * it to the plain runtime parser: the same verdict on every input, the same data out (key order
 * included, which the read models' stored JSON follows), and the same problem named.
 */

const runtime = (type: AccountEventType, data: unknown): { ok: true; data: string } | { ok: false; problem: string } => {
  const parsed = eventDataSchemas[type].safeParse(data);
  return parsed.success
    ? { ok: true, data: JSON.stringify(parsed.data) }
    : { ok: false, problem: `${type}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
};

const compiled = (type: AccountEventType, data: unknown): { ok: true; data: string } | { ok: false; problem: string } => {
  const checked = validateAccountEvent(type, data);
  return checked.ok ? { ok: true, data: JSON.stringify(checked.event.data) } : { ok: false, problem: checked.problem };
};

/** Values near every field's edges: valid and invalid numbers, ids, texts, instants and odd types. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(
    accountLimits.amountPerCommandMax,
    accountLimits.amountPerCommandMax + 1,
    accountLimits.balanceHardMax,
    accountLimits.balanceHardMax + 1,
    accountLimits.boostDurationHoursMax,
    accountLimits.boostDurationHoursMax + 0.5,
    Number.MAX_SAFE_INTEGER + 2,
    0.5,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ),
  fc.constantFrom(
    'gig',
    'clan',
    'profile',
    'other',
    'platform:sales',
    '',
    'a',
    'x'.repeat(accountLimits.idLengthMax),
    'x'.repeat(accountLimits.idLengthMax + 1),
    'line\nbreak',
    'tab\there',
    'bell\u0007',
    'sep\u2028',
    '🎉',
    '2026-06-29T13:30:00.000Z',
    '2026-02-29T13:30:00.000Z',
    '2028-02-29T13:30:00.000Z',
    '2026-13-01T00:00:00.000Z',
    '2026-06-29T13:30:00Z',
    '2026-06-29T13:30:00.000+01:00',
    '2026-06-29 13:30:00.000Z',
  ),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(null, undefined, true, [], {}, [1]),
);

/** A record with some of the type's fields (any values, in any order), sometimes an extra one. */
const dataFor = (type: AccountEventType): fc.Arbitrary<Record<string, unknown>> => {
  const keys = Object.keys(eventDataSchemas[type].shape);
  return fc
    .tuple(
      fc.shuffledSubarray([...keys, 'extra', '__proto__'], { minLength: Math.max(0, keys.length - 1) }),
      fc.array(anyValue, { minLength: keys.length + 2, maxLength: keys.length + 2 }),
    )
    .map(
      // Through JSON, as stored data is read: undefined fields drop out, __proto__ becomes an own key.
      ([chosen, values]) =>
        JSON.parse(JSON.stringify(Object.fromEntries(chosen.map((key, i) => [key, values[i]])))) as Record<string, unknown>,
    );
};

/** A valid record of the type, its fields in any order (the way a writer other than `decide` may store them). */
const validFor = (type: AccountEventType): fc.Arbitrary<Record<string, unknown>> => {
  const valid: Record<string, unknown> = {
    amount: 7,
    paymentRef: 'p-1',
    counterparty: 'platform:sales',
    balanceAfter: 100,
    targetType: 'gig',
    targetId: 'gig-1',
    reason: 'why\nnot',
    source: 'reward',
    refId: 'r-1',
    boostId: 'b-1',
    durationHours: 1.5,
    activatedAt: '2026-06-29T13:30:00.000Z',
    expiresAt: '2026-06-29T15:00:00.000Z',
    dueAt: '2026-06-29T15:00:00.000Z',
    expiredAt: '2026-06-29T15:00:01.000Z',
    transferId: 't-1',
    gigId: 'gig-1',
    payeeId: 'bob',
    payerId: 'ana',
    clanId: 'clan-1',
  };
  const keys = Object.keys(eventDataSchemas[type].shape);
  return fc
    .shuffledSubarray(keys, { minLength: keys.length })
    .map((order) => Object.fromEntries(order.map((k) => [k, valid[k]])));
};

describe('compiled event validation', () => {
  it('gives the runtime parser’s verdict, data and problem for any data of any type', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...accountEventTypes).chain((type) => fc.tuple(fc.constant(type), dataFor(type))),
        ([type, data]) => {
          expect(compiled(type, data)).toEqual(runtime(type, data));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('accepts valid data in any key order and hands it out in the schema’s order, as the runtime parser does', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...accountEventTypes).chain((type) => fc.tuple(fc.constant(type), validFor(type))),
        ([type, data]) => {
          const result = compiled(type, data);
          expect(result.ok).toBe(true);
          expect(result).toEqual(runtime(type, data));
          if (result.ok) expect(Object.keys(JSON.parse(result.data))).toEqual(Object.keys(eventDataSchemas[type].shape));
        },
      ),
      { numRuns: 500 },
    );
  });
});
