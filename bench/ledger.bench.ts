import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { DateTime } from 'luxon';
import {
  type AccountCommand,
  AccountCommandHandler,
  type CommandContext,
  openEventsDatabase,
  SqliteEventStore,
} from '../ledger/src/index.js';
import { appendChainedPurchases } from '../ledger/src/testing/index.js';
import { percentile, report } from './report.js';

const context: CommandContext = { actor: 'bench', correlationId: 'bench', causationId: 'bench' };
const now = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
const purchase = (amount: number): AccountCommand => ({ type: 'PurchaseCredits', amount, paymentRef: 'bench-payment', now });
const spend = (): AccountCommand => ({
  type: 'SpendCredits',
  amount: 1,
  targetType: 'gig',
  targetId: 'gig-42',
  reason: 'bench',
  now,
});

/** A row shaped like the ledger's own: same table, same indexes, a time-ordered id, a realistic payload. */
const sampleRow = (stream: string, revision: number) => [
  stream,
  revision,
  uuidv7(),
  'CreditsSpent',
  JSON.stringify({
    amount: 1,
    targetType: 'gig',
    targetId: 'gig-42',
    reason: 'bench',
    counterparty: 'platform:spending',
    balanceAfter: 999_999,
  }),
  JSON.stringify({
    schemaVersion: 1,
    commandId: uuidv7(),
    actor: 'bench',
    correlationId: 'bench',
    causationId: 'bench',
    occurredAt: '2026-06-29T13:30:00.000Z',
    prevHash: 'a'.repeat(64),
    hash: 'b'.repeat(64),
  }),
  '2026-06-29T13:30:00.000Z',
];

/** Raw inserts straight through better-sqlite3, with the store's schema and pragmas: the baseline. */
const rawInsertsPerSecond = (dir: string, rows: number, rowsPerCommit: number): number => {
  const db = openEventsDatabase(join(dir, `raw-${rowsPerCommit}.db`), 'full');
  const insert = db.prepare(
    'INSERT INTO events (stream, revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const commit = db.transaction((batch: unknown[][]) => {
    for (const row of batch) insert.run(...row);
  });
  const streams = 64;
  const prepared = Array.from({ length: rows }, (_, j) => sampleRow(`account-raw-${j % streams}`, Math.floor(j / streams)));
  const started = process.hrtime.bigint();
  for (let i = 0; i < rows; i += rowsPerCommit) commit(prepared.slice(i, i + rowsPerCommit));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  return rows / seconds;
};

const commandsPerSecond = async (
  dir: string,
  writers: number,
  commandsPerWriter: number,
  writer: 'inline' | 'thread' = 'inline',
): Promise<number> => {
  const store = new SqliteEventStore({ path: join(dir, `commands-${writers}-${writer}.db`), writer });
  const handler = new AccountCommandHandler(store);
  await Promise.all(Array.from({ length: writers }, (_, w) => handler.execute(`w${w}`, purchase(1_000_000), context)));
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < commandsPerWriter; i++) {
        const result = await handler.execute(`w${w}`, spend(), context);
        if (!result.ok) throw new Error(result.rejection.message);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  return (writers * commandsPerWriter) / seconds;
};

const batchedAppendEventsPerSecond = async (dir: string, events: number, eventsPerAppend: number): Promise<number> => {
  const store = new SqliteEventStore({ path: join(dir, 'batched.db') });
  const streams = 64;
  const revisions = new Array<number>(streams).fill(-1);
  const prepared = Array.from({ length: events }, () => {
    const [, , id, type, data, metadata] = sampleRow('', 0) as [string, number, string, string, string, string];
    return { id, type, data: JSON.parse(data) as Record<string, never>, metadata: JSON.parse(metadata) as Record<string, never> };
  });
  const started = process.hrtime.bigint();
  for (let done = 0; done < events;) {
    const appends: Promise<unknown>[] = [];
    for (let s = 0; s < streams && done < events; s++, done += eventsPerAppend) {
      const batch = prepared.slice(done, done + eventsPerAppend);
      const expected = revisions[s] ?? -1;
      appends.push(store.append(`account-batched-${s}`, batch, { expectedRevision: expected === -1 ? 'no_stream' : expected }));
      revisions[s] = expected + eventsPerAppend;
    }
    await Promise.all(appends);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  return events / seconds;
};

const latencyMs = async (
  handler: AccountCommandHandler,
  userId: string,
  samples: number,
): Promise<{ p50: number; p99: number }> => {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = process.hrtime.bigint();
    const result = await handler.execute(userId, spend(), context);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (!result.ok) throw new Error(result.rejection.message);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
};

/**
 * Keyed lookups (`findEventInStream` of an indexed append, as a retried keyed command makes): the
 * early event of a 100,000-event stream against the only event of a fresh one, same store, same run.
 * A point lookup costs the same whatever the stream's length.
 */
export const benchKeyedLookup = async (dir: string): Promise<void> => {
  const store = new SqliteEventStore({ path: join(dir, 'keyed-lookup.db'), durability: 'normal' });
  const event = () => {
    const [, , id, type, data, metadata] = sampleRow('', 0) as [string, number, string, string, string, string];
    return { id, type, data: JSON.parse(data) as Record<string, never>, metadata: JSON.parse(metadata) as Record<string, never> };
  };
  const longKey = event();
  const freshKey = event();
  await store.append('account-keyed-long', [longKey], { expectedRevision: 'no_stream', indexed: true });
  const eventsPerAppend = 1000;
  for (let revision = 0; revision < 100_000 - 1; revision += eventsPerAppend)
    await store.append('account-keyed-long', Array.from({ length: Math.min(eventsPerAppend, 100_000 - 1 - revision) }, event), {
      expectedRevision: revision,
    });
  await store.append('account-keyed-fresh', [freshKey], { expectedRevision: 'no_stream', indexed: true });
  const lookupUs = async (stream: string, id: string, samples: number): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const started = process.hrtime.bigint();
      const found = await store.findEventInStream(stream, id);
      times.push(Number(process.hrtime.bigint() - started) / 1e3);
      if (found?.id !== id) throw new Error(`keyed lookup missed ${id}`);
    }
    times.sort((a, b) => a - b);
    return percentile(times, 50);
  };
  await lookupUs('account-keyed-fresh', freshKey.id, 200); // warm-up
  const fresh = await lookupUs('account-keyed-fresh', freshKey.id, 2_000);
  const long = await lookupUs('account-keyed-long', longKey.id, 2_000);
  report({ name: 'keyed lookup p50, fresh stream', value: fresh, unit: 'µs' });
  report({
    name: 'keyed lookup p50, first event of a 100,000-event stream',
    value: long,
    unit: 'µs',
    baseline: { name: 'fresh stream', value: fresh, unit: 'µs' },
    target: '≤ 2 × fresh (a point read, no scan)',
    pass: long <= 2 * fresh,
  });
  await store.close();
};

const median = (values: number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

const timedMs = async (run: () => Promise<{ ok: boolean }>): Promise<number> => {
  const started = process.hrtime.bigint();
  const result = await run();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (!result.ok) throw new Error('bench command rejected');
  return ms;
};

/**
 * A 100,000-event account against a fresh one, same store, same run: keyed commands (the key looked
 * up by a point read, the append indexed) on a warm handler, and the first command after a restart
 * (a new handler: empty cache), which loads the account's snapshot and the events after it.
 */
export const benchLongAccount = async (dir: string): Promise<void> => {
  const store = new SqliteEventStore({ path: join(dir, 'long-account.db') });
  const longEvents = 100_000;
  await appendChainedPurchases(store, 'long', longEvents);
  const keyed = (key: string): CommandContext => ({ ...context, idempotency: { key: `client:${key}`, fingerprint: key } });

  // Keyed commands, warm: a new key each time (lookup misses, indexed append), then a repeat of one (lookup hit).
  const warm = new AccountCommandHandler(store);
  await warm.execute('fresh-keyed', purchase(1_000_000), context);
  await warm.read('long');
  const keyedMs = async (userId: string, samples: number): Promise<{ fresh: number; repeat: number }> => {
    const fresh: number[] = [];
    const repeat: number[] = [];
    for (let i = 0; i < samples; i++) fresh.push(await timedMs(() => warm.execute(userId, spend(), keyed(`${userId}-${i}`))));
    for (let i = 0; i < samples; i++) repeat.push(await timedMs(() => warm.execute(userId, spend(), keyed(`${userId}-${i}`))));
    return { fresh: median(fresh), repeat: median(repeat) };
  };
  await keyedMs('fresh-keyed', 50); // warm-up
  const keyedFresh = await keyedMs('fresh-keyed', 300);
  const keyedLong = await keyedMs('long', 300);
  report({ name: 'keyed command p50, fresh account', value: keyedFresh.fresh, unit: 'ms' });
  report({
    name: 'keyed command p50, 100,000-event account',
    value: keyedLong.fresh,
    unit: 'ms',
    baseline: { name: 'fresh account', value: keyedFresh.fresh, unit: 'ms' },
    target: '≤ 1.5 × fresh (point reads, no scan)',
    pass: keyedLong.fresh <= 1.5 * keyedFresh.fresh,
  });
  report({
    name: 'repeated keyed command p50 (answered from the log), 100,000-event account',
    value: keyedLong.repeat,
    unit: 'ms',
    baseline: { name: 'fresh account', value: keyedFresh.repeat, unit: 'ms' },
    target: '≤ 1.5 × fresh',
    pass: keyedLong.repeat <= 1.5 * keyedFresh.repeat,
  });
  await warm.snapshotsSettled();

  // First command after a restart. A fresh account: a new one each sample. The long account: a new
  // handler each sample; its snapshot was written by the running handler above.
  const samples = 21;
  const coldFresh: number[] = [];
  const coldLong: number[] = [];
  for (let i = 0; i < samples; i++) {
    coldFresh.push(await timedMs(() => new AccountCommandHandler(store).execute(`cold-fresh-${i}`, purchase(10), context)));
    coldLong.push(await timedMs(() => new AccountCommandHandler(store).execute('long', spend(), context)));
  }
  const freshFirst = median(coldFresh);
  const longFirst = median(coldLong);
  report({ name: 'first command after restart, fresh account (median of 21)', value: freshFirst, unit: 'ms' });
  report({
    name: 'first command after restart, 100,000-event account, from its snapshot (median of 21)',
    value: longFirst,
    unit: 'ms',
    baseline: { name: 'first command, fresh account', value: freshFirst, unit: 'ms' },
    target: '≤ 5 × fresh',
    pass: longFirst <= 5 * freshFirst,
  });
  // The same without a snapshot: what every first command cost before snapshots.
  const withoutSnapshot = new AccountCommandHandler(store, { eventsPerSnapshot: Number.MAX_SAFE_INTEGER });
  await appendChainedPurchases(store, 'long-unsnapshotted', longEvents);
  const fullFold = await timedMs(() => withoutSnapshot.execute('long-unsnapshotted', spend(), context));
  report({
    name: 'first command after restart, 100,000-event account, no snapshot (full fold)',
    value: fullFold,
    unit: 'ms',
    baseline: { name: 'first command, fresh account', value: freshFirst, unit: 'ms' },
  });
  await store.close();
};

export const benchLedger = async (dir: string): Promise<void> => {
  console.log('\n# ledger: durable commands through the command handler (embedded SQLite, synchronous=FULL)');
  const rawSingle = rawInsertsPerSecond(dir, 2_000, 1);
  const raw64 = rawInsertsPerSecond(dir, 96_000, 64); // as many rows as the 64-writer run appends
  const raw1000 = rawInsertsPerSecond(dir, 200_000, 1_000);
  const rawSingleBaseline = { name: 'raw single-row commits', value: rawSingle, unit: 'rows/s' };
  const raw64Baseline = { name: 'raw 64-row commits', value: raw64, unit: 'rows/s' };
  const raw1000Baseline = { name: 'raw 1,000-row commits', value: raw1000, unit: 'rows/s' };
  report({ name: 'raw inserts, 1 row/commit', value: rawSingle, unit: 'rows/s' });
  report({ name: 'raw inserts, 64 rows/commit (what 64 writers can group)', value: raw64, unit: 'rows/s' });
  report({ name: 'raw inserts, 1,000 rows/commit', value: raw1000, unit: 'rows/s' });

  const one = await commandsPerSecond(dir, 1, 2_000);
  report({ name: 'commands/s, 1 writer', value: one, unit: 'commands/s', baseline: rawSingleBaseline });
  const sixtyFour = await commandsPerSecond(dir, 64, 1_500);
  report({
    name: 'commands/s, 64 writers',
    value: sixtyFour,
    unit: 'commands/s',
    baseline: raw64Baseline,
    target: '≥ 0.4 × raw batched inserts at 64 writers',
    pass: sixtyFour / raw64 >= 0.4,
  });
  const sixtyFourThread = await commandsPerSecond(dir, 64, 1_500, 'thread');
  report({
    name: 'commands/s, 64 writers, commits on a writer thread',
    value: sixtyFourThread,
    unit: 'commands/s',
    baseline: { name: 'commits inline', value: sixtyFour, unit: 'commands/s' },
  });
  report({
    name: 'commands/s, 64 writers vs large raw batches',
    value: sixtyFour,
    unit: 'commands/s',
    baseline: raw1000Baseline,
  });
  const batched = await batchedAppendEventsPerSecond(dir, 200_000, 100);
  report({
    name: 'batched appends (100 events/append, 64 streams)',
    value: batched,
    unit: 'events/s',
    baseline: raw1000Baseline,
  });

  // Latency on a long account versus a fresh one, warm (the steady state of a running server).
  const store = new SqliteEventStore({ path: join(dir, 'latency.db') });
  const handler = new AccountCommandHandler(store);
  await handler.execute('long', purchase(1_000_000), context);
  for (let i = 0; i < 10_000; i += 500)
    await Promise.all(Array.from({ length: 500 }, () => handler.execute('long', spend(), context)));
  await handler.execute('fresh', purchase(1_000_000), context);
  const fresh = await latencyMs(handler, 'fresh', 500);
  const long = await latencyMs(handler, 'long', 500);
  report({ name: 'command latency p50, fresh account', value: fresh.p50, unit: 'ms' });
  report({
    name: 'command latency p50, 10,000-event account',
    value: long.p50,
    unit: 'ms',
    baseline: { name: 'fresh account', value: fresh.p50, unit: 'ms' },
    target: '≤ 1.5 × fresh',
    pass: long.p50 <= 1.5 * fresh.p50,
  });
  report({
    name: 'command latency p99, 10,000-event account',
    value: long.p99,
    unit: 'ms',
    baseline: { name: 'fresh p99', value: fresh.p99, unit: 'ms' },
  });

  // Cold: a new process (empty cache) meeting a long account for the first time.
  const coldHandler = new AccountCommandHandler(store);
  const coldLong = await latencyMs(coldHandler, 'long', 1);
  const coldFresh = await latencyMs(new AccountCommandHandler(store), 'fresh', 1);
  report({
    name: 'first command after restart, 10,000-event account',
    value: coldLong.p50,
    unit: 'ms',
    baseline: { name: 'first command, fresh account', value: coldFresh.p50, unit: 'ms' },
  });
  await store.close();

  await benchKeyedLookup(dir);
  await benchLongAccount(dir);
};

export const cleanDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });
