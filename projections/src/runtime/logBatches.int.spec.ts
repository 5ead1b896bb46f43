import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore, type RecordedEvent } from '../../../ledger/src/index.js';
import { appendBulkPurchases, readWholeLog, removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { logBatches } from './logBatches.js';

const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

/** The real store, counting its log reads (methods bound to the store: it has private fields). */
const openCounting = () => {
  const store = new SqliteEventStore({ path: join(tempDir(), 'events.db'), durability: 'normal' });
  closers.push(() => store.close());
  const calls = { readAll: 0, subscribeToAll: 0 };
  const counting = new Proxy(store, {
    get: (target, key) => {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (key === 'readAll' || key === 'subscribeToAll') calls[key]++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, counting, calls };
};

describe('logBatches: a projector reading the log on its own', () => {
  it('catches up in whole pages, one read each, then follows the subscription from where they ended', async () => {
    const { store, counting, calls } = openCounting();
    await appendBulkPurchases(store, 25, 100); // 2,500 events
    const controller = new AbortController();
    const feed = logBatches(counting, { after: -1, maxEvents: 1000, waitMs: 5, signal: controller.signal });
    const iterator = feed[Symbol.asyncIterator]();
    const got: RecordedEvent[][] = [];
    for (let i = 0; i < 3; i++) {
      const next = await iterator.next();
      if (next.done === true) throw new Error('the feed ended');
      got.push(next.value);
    }
    expect(got.map((batch) => batch.length)).toEqual([1000, 1000, 500]);
    // Two full pages, then a short one: the subscription takes over and reads those 500 again.
    expect(calls).toEqual({ readAll: 3, subscribeToAll: 1 });

    // Live: an append after the catch-up comes through the subscription.
    await store.append('late-1', [{ id: randomUUID(), type: 'Noted', data: {}, metadata: {} }], { expectedRevision: 'any' });
    const live = await iterator.next();
    if (live.done === true) throw new Error('the feed ended');
    got.push(live.value);
    expect(got.flat().map((e) => e.position)).toEqual((await readWholeLog(store)).map((e) => e.position));

    controller.abort();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('from a checkpoint, in pages of the size asked (one event at a time after a failed batch)', async () => {
    const { store, counting } = openCounting();
    await appendBulkPurchases(store, 5, 10); // 50 events
    const log = await readWholeLog(store);
    const after = log[9]?.position ?? -1;
    const controller = new AbortController();
    const got: number[][] = [];
    for await (const batch of logBatches(counting, { after, maxEvents: 1, waitMs: 5, signal: controller.signal })) {
      got.push(batch.map((e) => e.position));
      if (got.length === 5) controller.abort();
    }
    expect(got).toEqual(log.slice(10, 15).map((e) => [e.position]));
  });

  it('an aborted signal ends it before any read', async () => {
    const { store, counting, calls } = openCounting();
    await appendBulkPurchases(store, 2, 10);
    const controller = new AbortController();
    controller.abort();
    const got: unknown[] = [];
    for await (const batch of logBatches(counting, { after: -1, maxEvents: 10, waitMs: 5, signal: controller.signal }))
      got.push(batch);
    expect(got).toEqual([]);
    expect(calls).toEqual({ readAll: 0, subscribeToAll: 0 });
  });
});
