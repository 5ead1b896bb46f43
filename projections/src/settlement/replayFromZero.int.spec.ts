// Exactly once does not rest on the read-model store: with a fresh read-model file, the settlement
// reactor and the expiry scheduler start again from position 0, and every settlement and expiry they
// send again is answered from the log (a point read of its key), on the embedded engine and on the
// EventStoreDB adapter (stand-in client), however much the accounts moved since.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  accountEventOf,
  AccountCommandHandler,
  ManualClock,
  platformAccounts,
  postingsOf,
  SqliteEventStore,
  userAccount,
  type EventStore,
} from '../../../ledger/src/index.js';
import {
  appendChainedPurchases,
  EsdbEventStore,
  esdbStandIn,
  readWholeLog,
  removeTempDirs,
  tempDir,
} from '../../../ledger/src/testing/index.js';
import { BoostExpiryScheduler } from '../expiry/boostExpiryScheduler.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { feed } from '../testing/feed.js';
import { GigPaymentSettlement } from './gigPaymentSettlement.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});
const context = { actor: 'test', correlationId: 'c', causationId: 'c' };

const engines: { name: string; open: (dir: string) => EventStore }[] = [
  { name: 'embedded SQLite', open: (dir) => new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' }) },
  { name: 'EventStoreDB adapter (stand-in client)', open: () => new EsdbEventStore(esdbStandIn().client) },
];

/** Every account's balance from the double-entry legs of the whole log. */
const books = async (store: EventStore): Promise<Map<string, number>> => {
  const balances = new Map<string, number>();
  for (const recorded of await readWholeLog(store)) {
    const decoded = accountEventOf(recorded);
    if (decoded === undefined) continue;
    for (const { account, amount } of postingsOf(decoded.userId, decoded.event))
      balances.set(account, (balances.get(account) ?? 0) + amount);
  }
  return balances;
};

describe.each(engines)('reactors replaying from 0 on $name', ({ open }) => {
  it('a fresh read-model store applies no settlement and no expiry twice, and the books balance', async () => {
    const dir = tempDir();
    const store = open(dir);
    closers.push(() => store.close());
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    const handler = new AccountCommandHandler(store);
    const reactors = (file: string) => {
      const models = new SqliteReadModelStore(join(dir, file));
      closers.push(() => models.close());
      return {
        settlement: new GigPaymentSettlement({ store: models, handler, clock }),
        expiry: new BoostExpiryScheduler({ store: models, handler, clock }),
      };
    };

    await handler.execute('payer', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p1', now: clock.now() }, context);
    await handler.execute('payee', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p2', now: clock.now() }, context);
    for (const transferId of ['t1', 't2', 't3'])
      await handler.execute(
        'payer',
        { type: 'PayForGig', transferId, gigId: 'g1', payeeId: 'payee', amount: 50, now: clock.now() },
        context,
      );
    const boost = { type: 'ActivateBoost', targetType: 'gig', targetId: 'g1', amount: 10, durationHours: 1 } as const;
    await handler.execute('payee', { ...boost, boostId: 'b1', now: clock.now() }, context);

    // The first read-model store: settle, then expire.
    const first = reactors('readmodels-1.db');
    await feed(store, first.settlement);
    await feed(store, first.expiry);
    clock.advance({ hours: 1 });
    expect(await first.expiry.expireDue()).toMatchObject([{ boostId: 'b1', appended: true }]);
    // The payee's account moves on long after (past the 10,000 events a window once covered).
    await appendChainedPurchases(store, 'payee', 10_050);
    const before = await readWholeLog(store);

    // The read models are lost: a fresh file, both reactors from position 0. The expiry scheduler is
    // fed only up to the boost's activation (its expiry not yet seen), so it sends the expiry again.
    const second = reactors('readmodels-2.db');
    expect(await second.settlement.loadCheckpoint()).toBeLessThan(0);
    await feed(store, second.settlement);
    const activation = before.find((e) => e.type === 'BoostActivated');
    if (activation === undefined) throw new Error('no activation');
    await second.expiry.handle(before.filter((e) => e.position <= activation.position));
    const outcomes = await second.expiry.expireDue();
    expect(outcomes).toMatchObject([{ boostId: 'b1', appended: false }]);

    const after = await readWholeLog(store);
    expect(after).toHaveLength(before.length);
    expect(after.filter((e) => e.type === 'GigPaymentReceived')).toHaveLength(3);
    expect(after.filter((e) => e.type === 'BoostExpired')).toHaveLength(1);
    const balances = await books(store);
    expect([...balances.values()].reduce((sum, b) => sum + b, 0)).toBe(0);
    expect(balances.get(platformAccounts.gigPaymentsInTransit) ?? 0).toBe(0);
    expect(balances.get(userAccount('payee'))).toBe(100 + 150 - 10 + 10_050);
    expect((await new AccountCommandHandler(store).read('payee')).balance).toBe(100 + 150 - 10 + 10_050);
  }, 60_000);
});
