import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteEventStore, type RecordedEvent } from '../../../ledger/src/index.js';
import { appendBulkPurchases, removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { Projector } from './projector.js';
import type { Subscriber } from './subscriber.js';
import { SharedLogReader } from './sharedLog.js';

const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const openStore = (): SqliteEventStore => {
  const store = new SqliteEventStore({ path: join(tempDir(), 'events.db'), durability: 'normal' });
  closers.push(() => store.close());
  return store;
};

const appendOne = (store: SqliteEventStore, stream: string): Promise<unknown> =>
  store.append(stream, [{ id: randomUUID(), type: 'Noted', data: {}, metadata: {} }], { expectedRevision: 'any' });

/** A subscriber that keeps what it was handed, checkpointed in memory, optionally failing on some events. */
const recording = (name: string, failOn: (event: RecordedEvent) => boolean = () => false) => {
  const seen: number[] = [];
  let checkpoint = -1;
  const subscriber: Subscriber = {
    name,
    loadCheckpoint: () => Promise.resolve(checkpoint),
    handle: (batch) => {
      if (batch.some(failOn)) return Promise.reject(new Error(`${name} cannot fold it`));
      for (const event of batch) seen.push(event.position);
      checkpoint = batch[batch.length - 1]?.position ?? checkpoint;
      return Promise.resolve();
    },
  };
  return { subscriber, seen };
};

const start = (store: SqliteEventStore, subscriber: Subscriber, sharedLog: SharedLogReader): Projector => {
  const projector = new Projector(store, subscriber, { sharedLog });
  projector.start();
  closers.push(() => projector.stop());
  return projector;
};

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('SharedLogReader: one read of the log for every projector at that place', () => {
  it('projectors at the tail are served from one read of each event, each in order and complete', async () => {
    const store = openStore();
    const shared = new SharedLogReader(store);
    closers.push(() => shared.close());
    const followers = ['a', 'b', 'c', 'd'].map((name) => recording(name));
    const projectors = followers.map(({ subscriber }) => start(store, subscriber, shared));
    for (let i = 0; i < 300; i++) await appendOne(store, `s-${i % 7}`);
    const head = await store.headPosition();
    for (const projector of projectors) await projector.waitFor(head, 10_000);
    for (const { seen } of followers) expect(seen).toEqual(range(1, head));
    const stats = shared.stats();
    // Every event was read from the log once, by the tail, whatever the number of projectors.
    expect(stats.tailEvents).toBe(head);
    expect(stats.ownEvents).toBe(0);
    expect(stats.sharedEvents).toBe(4 * head);
  });

  it('a projector behind the window reads on its own until it reaches the window, then shares it', async () => {
    const store = openStore();
    await appendBulkPurchases(store, 4, 500); // 2,000 events before anyone reads
    const shared = new SharedLogReader(store, { windowEventsMax: 100 });
    closers.push(() => shared.close());
    const leader = recording('leader');
    const leading = start(store, leader.subscriber, shared);
    await leading.waitUntilCaughtUp(10_000);
    // The late one starts from the beginning, far behind a window of 100 events.
    const late = recording('late');
    const lateProjector = start(store, late.subscriber, shared);
    await lateProjector.waitUntilCaughtUp(10_000);
    const tailBefore = shared.stats().tailEvents;
    for (let i = 0; i < 50; i++) await appendOne(store, 'after');
    const head = await store.headPosition();
    await leading.waitFor(head, 10_000);
    await lateProjector.waitFor(head, 10_000);
    expect(leader.seen).toEqual(range(1, head));
    expect(late.seen).toEqual(range(1, head));
    const stats = shared.stats();
    expect(stats.ownEvents).toBeGreaterThanOrEqual(1900); // its catch-up, on its own
    expect(stats.tailEvents - tailBefore).toBe(50); // the live events, read once for both
  });

  it('a projector stopped on an event keeps its own failure, retries and checkpoint; the others go on', async () => {
    const store = openStore();
    const shared = new SharedLogReader(store);
    closers.push(() => shared.close());
    for (let i = 0; i < 20; i++) await appendOne(store, 'before');
    await store.append('bad', [{ id: randomUUID(), type: 'Poison', data: {}, metadata: {} }], { expectedRevision: 'any' });
    for (let i = 0; i < 20; i++) await appendOne(store, 'after');
    const head = await store.headPosition();
    const healthy = recording('healthy');
    const stuck = recording('stuck', (event) => event.type === 'Poison');
    const healthyProjector = start(store, healthy.subscriber, shared);
    const stuckProjector = start(store, stuck.subscriber, shared);
    await healthyProjector.waitFor(head, 10_000);
    expect(healthy.seen).toEqual(range(1, head));
    await vi.waitFor(
      async () => {
        const status = await stuckProjector.status();
        expect(status.state).toBe('failed');
        expect(status.failedOn).toMatchObject({ type: 'Poison', stream: 'bad', position: 21 });
      },
      { timeout: 10_000, interval: 20 },
    );
    // Everything before the event is folded, nothing after it.
    expect(stuck.seen).toEqual(range(1, 20));
    // The healthy one still follows new events while the other is stuck.
    await appendOne(store, 'later');
    await healthyProjector.waitFor(head + 1, 10_000);
  });

  it('a projector whose checkpoint is past the tail moves the tail to it; a behind one still gets every event', async () => {
    const store = openStore();
    for (let i = 0; i < 40; i++) await appendOne(store, 's');
    const shared = new SharedLogReader(store);
    closers.push(() => shared.close());
    const behind = recording('behind');
    start(store, behind.subscriber, shared);
    const ahead = recording('ahead');
    // Its read model is already at 29 (say, a rebuild just switched to it).
    const aheadSubscriber: Subscriber = { ...ahead.subscriber, loadCheckpoint: () => Promise.resolve(ahead.seen.at(-1) ?? 29) };
    const aheadProjector = start(store, aheadSubscriber, shared);
    for (let i = 0; i < 10; i++) await appendOne(store, 's');
    const head = await store.headPosition();
    await aheadProjector.waitFor(head, 10_000);
    await vi.waitFor(() => expect(behind.seen.at(-1)).toBe(head), { timeout: 10_000, interval: 20 });
    expect(ahead.seen).toEqual(range(30, head));
    expect(behind.seen).toEqual(range(1, head));
  });

  it('a read waiting at the tail ends empty when aborted, and the tail opens a new subscription for the next', async () => {
    const store = openStore();
    await appendOne(store, 's');
    const shared = new SharedLogReader(store);
    closers.push(() => shared.close());
    const controller = new AbortController();
    expect((await shared.read(-1, 10, controller.signal)).map((e) => e.position)).toEqual([1]);
    const waiting = shared.read(1, 10, controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect(await waiting).toEqual([]);
    const opens = shared.stats().tailOpens;
    const next = shared.read(1, 10, new AbortController().signal);
    await appendOne(store, 's');
    expect((await next).map((e) => e.position)).toEqual([2]);
    expect(shared.stats().tailOpens).toBe(opens + 1);
  });

  it('a batch that reached the tail waits waitMs for more, so a live tail is folded in batches (not while waitMs is 0)', async () => {
    const store = openStore();
    const shared = new SharedLogReader(store);
    closers.push(() => shared.close());
    const firstBatch = async (waitMs: number): Promise<number> => {
      const controller = new AbortController();
      const after = await store.headPosition();
      const feed = shared.batches({ after, maxEvents: 1000, waitMs, signal: controller.signal });
      const first = feed.next();
      await appendOne(store, 's');
      await new Promise((resolve) => setTimeout(resolve, 50));
      await appendOne(store, 's');
      const { value } = await first;
      controller.abort();
      await feed.return(undefined);
      return (value as RecordedEvent[] | undefined)?.length ?? 0;
    };
    expect(await firstBatch(0)).toBe(1);
    expect(await firstBatch(1000)).toBe(2);
  });

  it('a real read model fed through it matches one fed by a subscription of its own', async () => {
    const store = openStore();
    const shared = new SharedLogReader(store);
    closers.push(() => shared.close());
    const [sharedModels, ownModels] = [
      new SqliteReadModelStore(join(tempDir(), 'a.db')),
      new SqliteReadModelStore(join(tempDir(), 'b.db')),
    ];
    closers.push(
      () => sharedModels.close(),
      () => ownModels.close(),
    );
    const viaShared = new AccountBalancesProjection(sharedModels);
    const viaOwn = new AccountBalancesProjection(ownModels);
    const a = start(store, viaShared, shared);
    const b = new Projector(store, viaOwn);
    b.start();
    closers.push(() => b.stop());
    await appendBulkPurchases(store, 3, 300);
    await a.waitUntilCaughtUp(10_000);
    await b.waitUntilCaughtUp(10_000);
    for (let n = 0; n < 3; n++) {
      expect((await viaShared.balanceOf(`bulk-${n}`))?.balance).toBe(300n);
      expect((await viaShared.balanceOf(`bulk-${n}`))?.balance).toBe((await viaOwn.balanceOf(`bulk-${n}`))?.balance);
    }
    expect((await viaShared.totals()).total).toBe((await viaOwn.totals()).total);
  });
});
