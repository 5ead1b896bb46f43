import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type AccountCommand,
  platformAccounts,
  AccountCommandHandler,
  SqliteEventStore,
  ManualClock,
} from '../../../ledger/src/index.js';
import { appendBulkPurchases, removeTempDirs, tempDir, readWholeLog } from '../../../ledger/src/testing/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModelStore, sqliteReadModelStoreLimits } from '../readModels/sqliteReadModelStore.js';
import { Projector } from './projector.js';
import { GigPaymentSettlement } from '../settlement/gigPaymentSettlement.js';

const clock = new ManualClock();
const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const open = (dir = tempDir()) => {
  const store = new SqliteEventStore({ path: join(dir, 'events.db') });
  const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  const handler = new AccountCommandHandler(store);
  closers.push(
    () => store.close(),
    () => models.close(),
  );
  return { dir, store, models, handler };
};

const run = (store: SqliteEventStore, subscriber: ConstructorParameters<typeof Projector>[1]): Projector => {
  const projector = new Projector(store, subscriber);
  projector.start();
  closers.push(() => projector.stop());
  return projector;
};

const users = ['ana', 'ben', 'cai', 'dee'];
/** A deterministic mixed workload: purchases, spends, boosts, contributions and gig payments. */
const workload = async (handler: AccountCommandHandler, rounds: number, from = 0): Promise<number> => {
  let payments = 0;
  for (let r = from; r < from + rounds; r++) {
    await Promise.all(
      users.map(async (user, u) => {
        const commands: AccountCommand[] = [
          { type: 'PurchaseCredits', amount: 100 + r, paymentRef: `p-${r}`, now: clock.now() },
          { type: 'SpendCredits', amount: 7, targetType: 'gig', targetId: 'g1', reason: '', now: clock.now() },
          {
            type: 'ActivateBoost',
            boostId: `b-${user}-${r}`,
            targetType: 'clan',
            targetId: 'c1',
            amount: 3,
            durationHours: 1,
            now: clock.now(),
          },
          { type: 'ContributeToClan', clanId: `clan-${u % 2}`, amount: 5, now: clock.now() },
          {
            type: 'PayForGig',
            transferId: `t-${user}-${r}`,
            gigId: 'g1',
            payeeId: users[(u + 1) % users.length] ?? 'ana',
            amount: 11,
            now: clock.now(),
          },
        ];
        for (const command of commands) {
          const result = await handler.execute(user, command, context);
          if (!result.ok) throw new Error(result.rejection.code);
          if (command.type === 'PayForGig') payments++;
        }
      }),
    );
  }
  return payments;
};

describe('projection runtime', () => {
  it('account_balances follows the log, matches every account, and the books sum to zero', async () => {
    const { store, models, handler } = open();
    const balances = new AccountBalancesProjection(models);
    const projector = run(store, balances);
    const settlement = run(store, new GigPaymentSettlement({ store: models, handler, clock }));
    await workload(handler, 20);
    await settlement.waitUntilCaughtUp();
    await projector.waitUntilCaughtUp();

    for (const user of users) expect((await balances.balanceOf(user))?.balance).toBe(BigInt((await handler.read(user)).balance));
    expect((await balances.totals()).total).toBe(0n);
    expect((await balances.balanceOf(platformAccounts.gigPaymentsInTransit))?.balance).toBe(0n);
    expect((await balances.balanceOf(platformAccounts.sales))?.balance).toBe(BigInt(-users.length * (20 * 100 + (19 * 20) / 2)));
    expect((await balances.clanBalance('clan-0'))?.balance).toBe(BigInt(2 * 20 * 5));
    const status = await projector.status();
    expect(status).toMatchObject({ name: 'account_balances', state: 'live', lagEvents: 0, caughtUpOnce: true });
  });

  it('a batch delivered twice changes nothing', async () => {
    const { store, models, handler } = open();
    await workload(handler, 2);
    const balances = new AccountBalancesProjection(models);
    const events = await store.readAll();
    await balances.handle(events);
    const once = await Promise.all(users.map(async (u) => (await balances.balanceOf(u))?.balance));
    await balances.handle(events);
    await balances.handle(events.slice(3, 9));
    expect(await Promise.all(users.map(async (u) => (await balances.balanceOf(u))?.balance))).toEqual(once);
  });

  it('resumes from its durable checkpoint after a restart, without applying anything twice', async () => {
    const dir = tempDir();
    const first = open(dir);
    await workload(first.handler, 5);
    const projector = new Projector(first.store, new AccountBalancesProjection(first.models));
    projector.start();
    await projector.waitUntilCaughtUp();
    await projector.stop();
    await first.store.close();
    await first.models.close();

    const second = open(dir);
    await workload(second.handler, 5, 5);
    const balances = new AccountBalancesProjection(second.models);
    const again = run(second.store, balances);
    await again.waitUntilCaughtUp();
    const expected = await Promise.all(users.map(async (u) => BigInt((await second.handler.read(u)).balance)));
    expect(await Promise.all(users.map(async (u) => (await balances.balanceOf(u))?.balance))).toEqual(expected);
  });

  it('settles every gig payment exactly once, even with two reactors racing on one log', async () => {
    const dir = tempDir();
    const a = open(dir);
    const b = open(dir); // a second process: its own connections, handler and read-model file handle
    const settleA = run(a.store, new GigPaymentSettlement({ store: a.models, handler: a.handler, clock }));
    const payments = await workload(a.handler, 10);
    // The second reactor starts from scratch (its own checkpoint name would be shared, so reset it).
    const racer = new GigPaymentSettlement({
      store: new SqliteReadModelStore(join(dir, 'other-readmodels.db')),
      handler: b.handler,
      clock,
    });
    const settleB = run(b.store, racer);
    await settleA.waitUntilCaughtUp();
    await settleB.waitUntilCaughtUp();

    const received = await readWholeLog(a.store, 'GigPaymentReceived');
    expect(received).toHaveLength(payments);
    expect(new Set(received.map((e) => e.data.transferId)).size).toBe(payments);
  });

  it('reports lag while behind and restarts after an error from the subscriber', async () => {
    const { store, models, handler } = open();
    await workload(handler, 3);
    let failures = 1;
    const balances = new AccountBalancesProjection(models);
    const flaky = {
      name: 'flaky',
      loadCheckpoint: () => balances.loadCheckpoint(),
      handle: async (batch: Parameters<AccountBalancesProjection['handle']>[0]) => {
        if (failures-- > 0) throw new Error('read-model store hiccup');
        await balances.handle(batch);
      },
    };
    const projector = run(store, flaky);
    await projector.waitUntilCaughtUp(5_000);
    const status = await projector.status();
    expect(status.lastError).toBe('read-model store hiccup');
    expect(status.retries).toBe(1);
    expect(status.lagEvents).toBe(0);
    // Nothing settles here (no reactor), yet the books balance: the payments sit in transit.
    expect((await balances.totals()).total).toBe(0n);
    expect((await balances.balanceOf(platformAccounts.gigPaymentsInTransit))?.balance).toBe(BigInt(3 * users.length * 11));
    expect((await balances.balanceOf('ana'))?.balance).toBe(BigInt((await handler.read('ana')).balance));
  });

  it('is not live, nor serving as caught up, while a source that pauses mid catch-up is still behind', async () => {
    const { store, models, handler } = open();
    await workload(handler, 4);
    expect(await store.headPosition()).toBeGreaterThan(60);
    // A network store (EventStoreDB) can pause in the middle of a catch-up: short batches then
    // mean "paused", not "at the head".
    const pausing = Object.assign(Object.create(store) as SqliteEventStore, {
      headPosition: () => store.headPosition(),
      readAll: (options?: Parameters<SqliteEventStore['readAll']>[0]) => store.readAll(options),
      subscribeToAll: async function* (options: Parameters<SqliteEventStore['subscribeToAll']>[0]) {
        let delivered = 0;
        for await (const event of store.subscribeToAll(options)) {
          yield event;
          if (++delivered % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
        }
      },
    });
    const balances = new AccountBalancesProjection(models);
    const seen: { state: string; caughtUpOnce: boolean }[] = [];
    const projector: Projector = new Projector(pausing, {
      name: 'observed',
      loadCheckpoint: () => balances.loadCheckpoint(),
      handle: async (batch) => {
        const { state, caughtUpOnce } = await projector.status();
        seen.push({ state, caughtUpOnce });
        await balances.handle(batch);
      },
    });
    projector.start();
    closers.push(() => projector.stop());
    await projector.waitUntilCaughtUp(10_000);
    expect(seen.length).toBeGreaterThan(3);
    // Every batch but the last arrived while the projector was behind the head.
    for (const status of seen) expect(status).toEqual({ state: 'catching-up', caughtUpOnce: false });
    expect((await projector.status()).state).toBe('live');
  });

  it('goes live once it reaches the head it started from, even while traffic keeps the head moving', async () => {
    const { store, models, handler } = open();
    await workload(handler, 10);
    const startHead = await store.headPosition();
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        await handler.execute(
          `w${n % 7}`,
          { type: 'PurchaseCredits', amount: 1, paymentRef: `w-${n++}`, now: clock.now() },
          context,
        );
      }
    })();
    const projector = run(store, new AccountBalancesProjection(models));
    await projector.waitFor(startHead, 10_000);
    const status = await projector.status();
    writing = false;
    await writer;
    expect(n).toBeGreaterThan(0);
    expect(status).toMatchObject({ state: 'live', caughtUpOnce: true });
  });

  it('restarts a subscription that stopped delivering while the log moved on (stall watchdog)', async () => {
    const { store, models, handler } = open();
    let subscriptions = 0;
    // The first subscription goes silent (as a dropped connection that never errors would); later ones work.
    const flaky = Object.assign(Object.create(store) as SqliteEventStore, {
      headPosition: () => store.headPosition(),
      readAll: (options?: Parameters<SqliteEventStore['readAll']>[0]) => store.readAll(options),
      subscribeToAll: (options: Parameters<SqliteEventStore['subscribeToAll']>[0] = {}) => {
        subscriptions++;
        if (subscriptions > 1) return store.subscribeToAll(options);
        // eslint-disable-next-line require-yield -- a subscription that never delivers anything
        return (async function* silent() {
          await new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
        })();
      },
    });
    const balances = new AccountBalancesProjection(models);
    const projector = new Projector(flaky, balances, { stallTimeoutMs: 100, watchdogIntervalMs: 20 });
    projector.start();
    closers.push(() => projector.stop());
    await workload(handler, 2);
    await projector.waitUntilCaughtUp(10_000);
    const status = await projector.status();
    expect(status.stallRestarts).toBeGreaterThanOrEqual(1);
    expect(subscriptions).toBeGreaterThanOrEqual(2);
    expect((await balances.balanceOf('ana'))?.balance).toBe(BigInt((await handler.read('ana')).balance));
  });

  it('a batch committed and then reported failed: the retry finds the work done, and a waiter is answered', async () => {
    const { store, models, handler } = open();
    await workload(handler, 2);
    const balances = new AccountBalancesProjection(models);
    let failures = 0;
    const failsAfterCommit = {
      name: balances.name,
      loadCheckpoint: () => balances.loadCheckpoint(),
      handle: async (batch: Parameters<AccountBalancesProjection['handle']>[0]) => {
        await balances.handle(batch);
        if (failures++ === 0) throw new Error('lost the answer after the commit');
      },
    };
    const projector = new Projector(store, failsAfterCommit);
    projector.start();
    closers.push(() => projector.stop());
    // The whole log fits in the first batch: after the failure there is no further batch, only the
    // resubscription, which loads a checkpoint already at the head.
    await projector.waitUntilCaughtUp(5_000);
    expect(failures).toBe(1);
    expect((await projector.status()).retries).toBe(1);
    expect((await balances.balanceOf('ana'))?.balance).toBe(BigInt((await handler.read('ana')).balance));
  });

  it('a commit that fails loses nothing: the batch is folded again from the store on the retry', async () => {
    const { store, handler } = open();
    const failOnce = { armed: true };
    class FlakyStore extends SqliteReadModelStore {
      override commit(...args: Parameters<SqliteReadModelStore['commit']>): Promise<void> {
        if (args[0].length > 0 && failOnce.armed) {
          failOnce.armed = false;
          return Promise.reject(new Error('SQLITE_BUSY: database is locked'));
        }
        return super.commit(...args);
      }
    }
    const flakyModels = new FlakyStore(join(tempDir(), 'readmodels.db'));
    closers.push(() => flakyModels.close());
    const balances = new AccountBalancesProjection(flakyModels);
    const projector = new Projector(store, balances);
    projector.start();
    closers.push(() => projector.stop());
    await workload(handler, 3);
    await projector.waitUntilCaughtUp(5_000);
    expect(failOnce.armed).toBe(false);
    expect((await projector.status()).retries).toBe(1);
    for (const user of users) expect((await balances.balanceOf(user))?.balance).toBe(BigInt((await handler.read(user)).balance));
    expect((await balances.totals()).total).toBe(0n);
  });

  it('while another process holds the read-model write lock (a rebuild), it fails fast, retries, and then catches up', async () => {
    const { store, handler } = open();
    const path = join(tempDir(), 'readmodels.db');
    // The server's store waits only briefly for a lock: SQLite would sleep on the event loop meanwhile.
    const serverModels = new SqliteReadModelStore(path, { lockWaitMs: sqliteReadModelStoreLimits.serverLockWaitMs });
    const rebuildProcess = new Database(path, { timeout: 0 });
    closers.push(
      () => serverModels.close(),
      () => void rebuildProcess.close(),
    );
    const balances = new AccountBalancesProjection(serverModels);
    const projector = run(store, balances);
    await workload(handler, 1);
    await projector.waitUntilCaughtUp(5_000);
    rebuildProcess.exec('BEGIN IMMEDIATE'); // the other writer takes the lock and keeps it
    await workload(handler, 2, 1);
    await vi.waitFor(
      async () => {
        const status = await projector.status();
        expect(status.retries).toBeGreaterThan(0);
        expect(status.lastError).toMatch(/locked by another writer/);
        expect(status.lagEvents).toBeGreaterThan(0);
      },
      { timeout: 5_000, interval: 20 },
    );
    rebuildProcess.exec('COMMIT');
    await projector.waitUntilCaughtUp(15_000);
    for (const user of users) expect((await balances.balanceOf(user))?.balance).toBe(BigInt((await handler.read(user)).balance));
    expect((await balances.totals()).total).toBe(0n);
  });

  it('leaves the event loop to others while it catches up (a server in the same process keeps answering)', async () => {
    const { store, models } = open();
    // 20,000 purchases, so the catch-up takes many batches.
    await appendBulkPurchases(store, 10, 2000);
    const head = await store.headPosition();
    const projector = run(store, new AccountBalancesProjection(models));
    // A timer due at once must run while the catch-up is still going, not after it.
    const seenByTimer = await new Promise<number>((resolve) => {
      setTimeout(() => void projector.status().then((s) => resolve(s.checkpoint)), 0);
    });
    expect(seenByTimer).toBeLessThan(head);
    await projector.waitUntilCaughtUp(20_000);
  });
});
