import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DateTime } from 'luxon';
import {
  platformAccounts,
  balanceAsOf,
  walkChains,
  type EventStore,
  type EventToAppend,
  type JsonObject,
  SqliteEventStore,
  eventHash,
  genesisHash,
} from '../ledger/src/index.js';
import { report } from './report.js';

/** Sizes: the issue's, unless AUDIT_BENCH_LOG_EVENTS asks for a smaller log (a quick run). */
const accountEvents = 100_000;
const logEvents = Number(process.env.AUDIT_BENCH_LOG_EVENTS ?? 1_000_000);
const eventsPerLogAccount = 100;
const appendEventsMax = 1000;

const start = DateTime.fromISO('2026-01-01T00:00:00.000Z', { zone: 'utc' });

/** Valid, hash-chained purchases of 1 credit, one a second, as the command handler would write them. */
const appendChained = async (store: EventStore, stream: string, count: number): Promise<void> => {
  let prevHash = genesisHash;
  for (let from = 0; from < count; from += appendEventsMax) {
    const batch: EventToAppend[] = [];
    for (let revision = from; revision < Math.min(count, from + appendEventsMax); revision++) {
      const data: JsonObject = {
        amount: 1,
        paymentRef: `p${revision}`,
        counterparty: platformAccounts.sales,
        balanceAfter: revision + 1,
      };
      const metadata: JsonObject = {
        schemaVersion: 1,
        commandId: randomUUID(),
        commandType: 'PurchaseCredits',
        occurredAt: start.plus({ seconds: revision }).toISO() ?? '',
        actor: 'bench',
        correlationId: 'bench',
        causationId: 'bench',
        prevHash,
      };
      const hash = eventHash({ stream, revision, type: 'CreditsPurchased', data, metadata });
      prevHash = hash;
      batch.push({ id: randomUUID(), type: 'CreditsPurchased', data, metadata: { ...metadata, hash } });
    }
    await store.append(stream, batch, { expectedRevision: from === 0 ? 'no_stream' : from - 1 });
  }
};

const timeMs = async (run: () => Promise<unknown>): Promise<number> => {
  const begin = performance.now();
  await run();
  return performance.now() - begin;
};

/** The best of a few runs: the figure least disturbed by other work on the machine. */
const bestMs = async (runs: number, run: () => Promise<unknown>): Promise<number> => {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) best = Math.min(best, await timeMs(run));
  return best;
};

export const benchAudit = async (dir: string): Promise<void> => {
  console.log('\n== audit ==');
  // 1. Balance as of an instant on one account of 100,000 events, against reading those events raw.
  {
    const store = new SqliteEventStore({ path: join(dir, 'account.db'), durability: 'normal' });
    const stream = 'account-big';
    await appendChained(store, stream, accountEvents);
    const rawMs = await bestMs(3, async () => {
      for (let fromRevision = 0; ;) {
        const page = await store.readStream(stream, { fromRevision, maxCount: 1000 });
        if (page.length === 0) return;
        fromRevision += page.length;
      }
    });
    // The worst instant: after the last event, so the whole stream is folded.
    const asOf = start.plus({ seconds: accountEvents + 1 }).toISO() ?? '';
    const asOfMs = await bestMs(3, () => balanceAsOf(store, stream, asOf));
    const ok = asOfMs <= 200 && asOfMs <= 2 * rawMs;
    report({
      name: `balance as of an instant, ${accountEvents.toLocaleString('en-US')}-event account (whole stream folded)`,
      value: asOfMs,
      unit: 'ms',
      baseline: { name: 'raw read of its events', value: rawMs, unit: 'ms' },
      target: '≤ 200 ms and ≤ 2 × raw',
      pass: ok,
    });
    await store.close();
  }
  // 2. verify over the whole log against a raw scan of the same log.
  {
    const store = new SqliteEventStore({ path: join(dir, 'log.db'), durability: 'normal' });
    const accounts = Math.ceil(logEvents / eventsPerLogAccount);
    for (let a = 0; a < accounts; a += 50)
      await Promise.all(
        Array.from({ length: Math.min(50, accounts - a) }, (_, i) =>
          appendChained(store, `account-log-${a + i}`, eventsPerLogAccount),
        ),
      );
    const rawMs = await bestMs(2, async () => {
      for (let after = -1; ;) {
        const page = await store.readAll({ after, maxCount: 1000 });
        if (page.length === 0) return;
        after = page[page.length - 1]?.position ?? after;
      }
    });
    let breaks = -1;
    const verifyMs = await bestMs(2, async () => {
      breaks = (await walkChains(store)).breaks.length;
    });
    if (breaks !== 0) throw new Error(`bench log verified with ${breaks} breaks`);
    report({
      name: `verify speed over ${logEvents.toLocaleString('en-US')} events (every chain link and content hash)`,
      value: logEvents / (verifyMs / 1000),
      unit: 'events/s',
      baseline: { name: 'raw scan', value: logEvents / (rawMs / 1000), unit: 'events/s' },
      target: '≥ 0.5 × raw scan',
      pass: rawMs / verifyMs >= 0.5,
    });
    await store.close();
  }
};
