// Exactly once for keyed commands however long the account, on the embedded engine and on
// EventStoreDB's adapter (against the stand-in client that answers as the server does): a payment, a
// settlement and an expiry repeated after 10,000 later events are answered from the log, not applied again.
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import type { EventStore } from '../eventStore/eventStore.js';
import { EsdbEventStore } from '../eventStore/esdb/esdbEventStore.js';
import { esdbStandIn } from '../eventStore/esdb/esdbStandIn.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { appendChainedPurchases } from '../testing/bulk.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import { AccountCommandHandler, type CommandContext } from './accountCommandHandler.js';

const now = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
const base = { actor: 'service:test', correlationId: 'c', causationId: 'c' };
const keyed = (key: string, fingerprint = key): CommandContext => ({ ...base, idempotency: { key, fingerprint } });

const stores: EventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  removeTempDirs();
});

const engines: { name: string; open: () => EventStore }[] = [
  { name: 'embedded SQLite', open: () => new SqliteEventStore({ path: tempDbFile(), durability: 'normal' }) },
  { name: 'EventStoreDB adapter (stand-in client)', open: () => new EsdbEventStore(esdbStandIn().client) },
];

describe.each(engines)('keyed commands on $name', ({ open }) => {
  it('a payment, a settlement and an expiry older than 10,000 events are found by their keys and not applied again', async () => {
    const store = open();
    stores.push(store);
    const handler = new AccountCommandHandler(store);
    const payment: AccountCommand = { type: 'PurchaseCredits', amount: 500, paymentRef: 'pay-old', now };
    const settlement: AccountCommand = {
      type: 'ReceiveGigPayment',
      transferId: 't-old',
      gigId: 'g1',
      payerId: 'payer',
      amount: 70,
      now,
    };
    const boost: AccountCommand = {
      type: 'ActivateBoost',
      boostId: 'b-old',
      targetType: 'gig',
      targetId: 'g1',
      amount: 20,
      durationHours: 1,
      now,
    };
    const expiry: AccountCommand = { type: 'ExpireBoost', boostId: 'b-old', now: now.plus({ hours: 2 }) };
    expect(await handler.execute('u1', payment, keyed('payment:pay-old'))).toMatchObject({ ok: true, replayed: false });
    expect(await handler.execute('u1', settlement, keyed('settle-t-old'))).toMatchObject({ ok: true, replayed: false });
    expect(await handler.execute('u1', boost, keyed('client:boost-1'))).toMatchObject({ ok: true, replayed: false });
    const expiryKey = `expire-b-old@${now.plus({ hours: 1 }).toISO()}`;
    expect(await handler.execute('u1', expiry, keyed(expiryKey))).toMatchObject({ ok: true, replayed: false });
    await appendChainedPurchases(store, 'u1', 10_001);
    const length = 4 + 10_001;
    const balance = 500 + 70 - 20 + 10_001;

    // The same handler (its cache now behind the log) and a fresh one (a restart, another process).
    for (const again of [handler, new AccountCommandHandler(store)]) {
      expect(await again.execute('u1', payment, keyed('payment:pay-old'))).toMatchObject({
        ok: true,
        replayed: true,
        revision: 0,
      });
      expect(await again.execute('u1', settlement, keyed('settle-t-old'))).toMatchObject({
        ok: true,
        replayed: true,
        revision: 1,
      });
      expect(await again.execute('u1', boost, keyed('client:boost-1'))).toMatchObject({ ok: true, replayed: true, revision: 2 });
      expect(await again.execute('u1', expiry, keyed(expiryKey))).toMatchObject({ ok: true, replayed: true, revision: 3 });
      // The same key for another request is still refused, however old the key.
      expect(await again.execute('u1', { ...payment, amount: 1 }, keyed('payment:pay-old', 'other'))).toMatchObject({
        ok: false,
        rejection: { code: 'IDEMPOTENCY_KEY_REUSED' },
      });
    }
    const fresh = new AccountCommandHandler(store);
    expect((await fresh.read('u1')).balance).toBe(balance);
    expect((await fresh.read('u1')).revision).toBe(length - 1);
    await handler.snapshotsSettled();
    await fresh.snapshotsSettled();
  }, 60_000);
});
