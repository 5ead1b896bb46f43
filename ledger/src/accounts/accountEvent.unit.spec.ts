import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../eventStore/eventStore.js';
import { accountEventOf } from './accountEvent.js';

const recorded = (overrides: Partial<RecordedEvent> = {}): RecordedEvent => ({
  id: 'e-1',
  type: 'CreditsPurchased',
  data: { amount: 5, paymentRef: 'p-1', counterparty: 'platform:sales', balanceAfter: 5 },
  metadata: {},
  stream: 'account-ana',
  revision: 0,
  position: 1,
  recordedAt: '2026-06-29T13:30:00.000Z',
  ...overrides,
});

describe('accountEventOf', () => {
  it("decodes an account stream's event with its owner, the user id after the stream prefix", () => {
    expect(accountEventOf(recorded({ stream: 'account-account-7' }))).toEqual({
      userId: 'account-7',
      event: {
        type: 'CreditsPurchased',
        data: { amount: 5, paymentRef: 'p-1', counterparty: 'platform:sales', balanceAfter: 5 },
      },
    });
  });

  it('is undefined for an event of another stream, whatever its type and data', () => {
    expect(accountEventOf(recorded({ stream: 'relay-checkpoints' }))).toBeUndefined();
    expect(accountEventOf(recorded({ stream: 'accounts-ana', type: 'Nonsense', data: {} }))).toBeUndefined();
  });

  it('crashes on an account event that fails its schema (a corrupt log), naming the event', () => {
    expect(() => accountEventOf(recorded({ data: { amount: -5 } }))).toThrow(/corrupt event e-1 in account-ana@0/);
    expect(() => accountEventOf(recorded({ type: 'CreditsStolen' }))).toThrow(/unknown event type "CreditsStolen"/);
  });

  it('validates a recorded event once: readers sharing a read get the same decoded object', () => {
    const event = recorded();
    expect(accountEventOf(event)).toBe(accountEventOf(event));
    expect(accountEventOf(recorded())).not.toBe(accountEventOf(event));
  });

  it('leaves the recorded event as it was to everything else: same keys, same JSON, equal to a fresh copy', () => {
    const event = recorded();
    const before = JSON.stringify(event);
    accountEventOf(event);
    expect(Object.keys(event)).toEqual(Object.keys(recorded()));
    expect(JSON.stringify(event)).toBe(before);
    expect(event).toStrictEqual(recorded());
    expect({ ...event }).toStrictEqual(recorded());
    expect(structuredClone(event)).toStrictEqual(recorded());
  });

  it('decodes a frozen recorded event too, validating it on every call', () => {
    const event = Object.freeze(recorded());
    const first = accountEventOf(event);
    expect(first?.event.type).toBe('CreditsPurchased');
    expect(accountEventOf(event)).toEqual(first);
    expect(accountEventOf(event)).not.toBe(first);
  });
});
