import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DateTime } from 'luxon';
import {
  platformAccounts,
  balanceAsOf,
  type BalanceAsOf,
  walkChains,
  type EventStore,
  type EventToAppend,
  type JsonObject,
  SqliteEventStore,
  eventHash,
  genesisHash,
  readIndexed,
  targetKey,
  traceKeysOf,
  type RecordedEvent,
  type TraceKey,
} from '../ledger/src/index.js';
import { AuditIndexProjection, auditIndexLimits, SqliteReadModelStore } from '../projections/src/index.js';
import { percentile, report } from './report.js';

/** Sizes: the issue's, unless AUDIT_BENCH_LOG_EVENTS asks for a smaller log (a quick run). */
const accountEvents = 100_000;
const logEvents = Number(process.env.AUDIT_BENCH_LOG_EVENTS ?? 1_000_000);
const eventsPerLogAccount = 100;
const appendEventsMax = 1000;

/**
 * For iterating on one part without rebuilding the log: AUDIT_BENCH_PARTS picks parts
 * (`balance,verify,traces`; all by default) and AUDIT_BENCH_LOG_DIR keeps the 1,000,000-event log and
 * its audit index in a directory of your choice, reused by the next run (built once). The full
 * `npm run bench -- audit` sets neither and reports exactly the same figures.
 */
const parts = new Set((process.env.AUDIT_BENCH_PARTS ?? 'balance,verify,traces').split(','));
const keptLogDir = process.env.AUDIT_BENCH_LOG_DIR;

const start = DateTime.fromISO('2026-01-01T00:00:00.000Z', { zone: 'utc' });

/** One event of a bench stream, as `appendChained` writes it at a revision. */
interface BenchEvent {
  readonly type: 'CreditsPurchased' | 'BoostActivated';
  readonly data: JsonObject;
  readonly correlationId: string;
}

/** A purchase of 1 credit: the account's balance is then revision + 1. */
const purchaseAt = (_stream: string, revision: number): BenchEvent => ({
  type: 'CreditsPurchased',
  data: { amount: 1, paymentRef: `p${revision}`, counterparty: platformAccounts.sales, balanceAfter: revision + 1 },
  correlationId: 'bench',
});

/**
 * Valid, hash-chained events, one a second, as the command handler would write them (by default
 * purchases of 1 credit).
 */
const appendChained = async (
  store: EventStore,
  stream: string,
  count: number,
  eventAt: (stream: string, revision: number) => BenchEvent = purchaseAt,
): Promise<void> => {
  let prevHash = genesisHash;
  for (let from = 0; from < count; from += appendEventsMax) {
    const batch: EventToAppend[] = [];
    for (let revision = from; revision < Math.min(count, from + appendEventsMax); revision++) {
      const { type, data, correlationId } = eventAt(stream, revision);
      const metadata: JsonObject = {
        schemaVersion: 1,
        commandId: randomUUID(),
        commandType: type === 'CreditsPurchased' ? 'PurchaseCredits' : 'ActivateBoost',
        occurredAt: start.plus({ seconds: revision }).toISO() ?? '',
        actor: 'bench',
        correlationId,
        causationId: correlationId,
        prevHash,
      };
      const hash = eventHash({ stream, revision, type, data, metadata });
      prevHash = hash;
      batch.push({ id: randomUUID(), type, data, metadata: { ...metadata, hash } });
    }
    await store.append(stream, batch, { expectedRevision: from === 0 ? 'no_stream' : from - 1 });
  }
};

/** Targets of the log's boosts: with every 10th event a boost, each target has about 100 of them. */
const logTargets = 1000;

/**
 * The 1,000,000-event log: every event its own request (correlation); every 10th a boost of 1 credit
 * on one of `logTargets` gigs, paid from the purchases before it (balance: +1, +1, …, −1).
 */
const logEventAt = (stream: string, revision: number): BenchEvent => {
  const boosts = Math.floor((revision + 1) / 10);
  const balanceAfter = revision + 1 - 2 * boosts;
  const correlationId = `req-${stream}-${revision}`;
  if (revision % 10 !== 9)
    return { ...purchaseAt(stream, revision), data: { ...purchaseAt(stream, revision).data, balanceAfter }, correlationId };
  const activatedAt = start.plus({ seconds: revision });
  return {
    type: 'BoostActivated',
    data: {
      boostId: `${stream}-b${revision}`,
      targetType: 'gig',
      targetId: `g${(Number(stream.slice(stream.lastIndexOf('-') + 1)) * 10 + Math.floor(revision / 10)) % logTargets}`,
      amount: 1,
      durationHours: 1,
      activatedAt: activatedAt.toISO() ?? '',
      expiresAt: activatedAt.plus({ hours: 1 }).toISO() ?? '',
      counterparty: platformAccounts.boosts,
      balanceAfter,
    },
    correlationId,
  };
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
  if (parts.has('balance')) {
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
    // The first query folds the whole stream and writes the balance index (one block per 1,000 events).
    const asOfEnd = start.plus({ seconds: accountEvents + 1 }).toISO() ?? '';
    const coldMs = await timeMs(() => balanceAsOf(store, stream, asOfEnd));
    report({
      name: `balance as of an instant, ${accountEvents.toLocaleString('en-US')}-event account, first query (folds all, writes the index)`,
      value: coldMs,
      unit: 'ms',
      baseline: { name: 'raw read of its events', value: rawMs, unit: 'ms' },
    });
    // Then: after the last event (the whole stream as of the index's last block), and mid-history.
    const instants: [string, string][] = [
      ['after the last event', asOfEnd],
      ['mid-history', start.plus({ seconds: accountEvents / 2 + 500 }).toISO() ?? ''],
    ];
    for (const [label, asOf] of instants) {
      let answer: BalanceAsOf | undefined;
      const asOfMs = await bestMs(5, async () => {
        answer = await balanceAsOf(store, stream, asOf);
      });
      if (answer === undefined || answer.indexMismatch || answer.indexRevision < 0)
        throw new Error(`bench: the balance index was not used (${JSON.stringify(answer)})`);
      report({
        name: `balance as of an instant, ${accountEvents.toLocaleString('en-US')}-event account, ${label} (index; ${answer.eventsRead} events read)`,
        value: asOfMs,
        unit: 'ms',
        baseline: { name: 'raw read of its events', value: rawMs, unit: 'ms' },
        target: '≤ 200 ms and ≤ 2 × raw',
        pass: asOfMs <= 200 && asOfMs <= 2 * rawMs,
      });
    }
    await store.close();
  }
  // 2. verify over the whole log against a raw scan of the same log.
  if (parts.has('verify') || parts.has('traces')) {
    const logDir = keptLogDir ?? dir;
    const logPath = join(logDir, `log-${logEvents}.db`);
    const reuse = keptLogDir !== undefined && existsSync(logPath);
    const store = new SqliteEventStore({ path: logPath, durability: 'normal' });
    const accounts = Math.ceil(logEvents / eventsPerLogAccount);
    if (reuse && (await store.headPosition()) < 0) throw new Error(`bench: ${logPath} is empty; remove it`);
    for (let a = 0; a < accounts && !reuse; a += 50)
      await Promise.all(
        Array.from({ length: Math.min(50, accounts - a) }, (_, i) =>
          appendChained(store, `account-log-${a + i}`, eventsPerLogAccount, logEventAt),
        ),
      );
    if (parts.has('verify')) await benchVerify(store);
    if (parts.has('traces')) await benchTraces(store, logDir, accounts);
    await store.close();
  }
};

/** verify (`walkChains`) over the whole log against a raw scan of the same log, same run. */
const benchVerify = async (store: EventStore): Promise<void> => {
  {
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
  }
};

/** Queries per trace kind: enough for a p99 that is not the maximum. */
const traceQueries = 1000;

/**
 * Correlation and target queries on the whole log, as the audit routes answer them: references from
 * the audit_index projection, each event read back from the log and checked (`readIndexed`); a
 * correlation also follows the boosts its events name (the route's followers). Baseline: one point
 * read of the log, the unit of work each reference costs.
 */
const benchTraces = async (store: EventStore, dir: string, accounts: number): Promise<void> => {
  const readModels = new SqliteReadModelStore(join(dir, `audit-index-${logEvents}.db`));
  const index = new AuditIndexProjection(readModels);
  const buildMs = await timeMs(async () => {
    for (let after = await index.loadCheckpoint(); ;) {
      const page = await store.readAll({ after, maxCount: 1000 });
      if (page.length === 0) return;
      await index.handle(page);
      after = page[page.length - 1]?.position ?? after;
    }
  });
  report({ name: `audit_index built over ${logEvents.toLocaleString('en-US')} events`, value: buildMs / 1000, unit: 's' });
  const pick = (i: number): number => (i * 2654435761) % accounts;
  const p99 = (samples: readonly number[]): number =>
    percentile(
      [...samples].sort((x, y) => x - y),
      99,
    );
  /** The read-back as it was before `readEvents`: one point read per reference (the same-run baseline). */
  const oneAtATime: typeof readIndexed = async (s, refs, key) => {
    const events: RecordedEvent[] = [];
    let mismatches = 0;
    for (const ref of refs) {
      const [event] = await s.readStream(ref.stream, { fromRevision: ref.revision, maxCount: 1 });
      const holds =
        event?.revision === ref.revision &&
        event.position === ref.position &&
        traceKeysOf(event).some((k) => k.kind === key.kind && k.key === key.key);
      if (holds) events.push(event);
      else mismatches += 1;
    }
    return { events, mismatches };
  };
  /** The queries, with the references read back one way or the other; p99 of each kind. */
  const runQueries = async (readBack: typeof readIndexed) => {
    const traced = async (key: TraceKey): Promise<RecordedEvent[]> => {
      const { events, mismatches } = await readBack(store, await index.lookup(key), key);
      if (mismatches !== 0) throw new Error(`bench: ${mismatches} index mismatches under ${key.kind} ${key.key}`);
      return events;
    };
    const correlationMs: number[] = [];
    const targetMs: number[] = [];
    const boundMs: number[] = [];
    let targetBoosts = 0;
    for (let i = 0; i < traceQueries; i++) {
      const stream = `account-log-${pick(i)}`;
      // Every 10th request activated a boost: its answer includes what followed under the boost's key.
      const revision = i % 10 === 0 ? 9 + 10 * (Math.floor(i / 10) % 10) : i % eventsPerLogAccount;
      correlationMs.push(
        await timeMs(async () => {
          const direct = await traced({ kind: 'correlation', key: `req-${stream}-${revision}` });
          if (direct.length !== 1) throw new Error(`bench: correlation req-${stream}-${revision} found ${direct.length} events`);
          for (const e of direct) if (typeof e.data.boostId === 'string') await traced({ kind: 'boost', key: e.data.boostId });
        }),
      );
      targetMs.push(
        await timeMs(async () => {
          const boosts = await traced({ kind: 'target', key: targetKey('gig', `g${i % logTargets}`) });
          targetBoosts += boosts.length;
        }),
      );
      // A key at the index's bound: 1,000 references (the sales account's legs from some position on).
      if (i % 10 === 0)
        boundMs.push(
          await timeMs(async () => {
            const key: TraceKey = { kind: 'counterparty', key: platformAccounts.sales };
            const refs = await index.lookup(key, { fromPosition: Math.floor((i / traceQueries) * logEvents * 0.9) });
            const { mismatches } = await readBack(store, refs, key);
            if (mismatches !== 0 || refs.length !== auditIndexLimits.lookupRefsMax)
              throw new Error(`bench: ${refs.length} references, ${mismatches} mismatches at the bound`);
          }),
        );
    }
    return { correlation: p99(correlationMs), target: p99(targetMs), bound: p99(boundMs), targetBoosts };
  };
  const before = await runQueries(oneAtATime);
  const batched = await runQueries(readIndexed);
  for (const [label, kind, target] of [
    ['correlation query', 'correlation', true],
    [`target query (about ${Math.round(batched.targetBoosts / traceQueries)} boosts each)`, 'target', true],
    [`a key at the index bound (${auditIndexLimits.lookupRefsMax.toLocaleString('en-US')} references)`, 'bound', false],
  ] as const) {
    report({
      name: `${label} p99 over ${logEvents.toLocaleString('en-US')} events (index lookup, every event read back in batches and checked)`,
      value: batched[kind],
      unit: 'ms',
      baseline: { name: 'the same queries reading references back one at a time', value: before[kind], unit: 'ms' },
      ...(target ? { target: '≤ 50 ms', pass: batched[kind] <= 50 } : {}),
    });
  }
  await readModels.close();
};
