import { join } from 'node:path';
import { DateTime } from 'luxon';
import { v7 as uuidv7 } from 'uuid';
import {
  accountEventOf,
  AccountCommandHandler,
  type EventToAppend,
  ManualClock,
  msPerHour,
  platformAccounts,
  SqliteEventStore,
  systemClock,
} from '../ledger/src/index.js';
import { readWholeLog } from '../ledger/src/testing/index.js';
import { BoostExpiryScheduler, Projector, SqliteReadModelStore } from '../projections/src/index.js';
import { percentile, report } from './report.js';

const context = { actor: 'bench', correlationId: 'bench', causationId: 'bench' };

/** Lateness (ms), missed and duplicated expiries, read back from the log. */
const audit = async (
  store: SqliteEventStore,
  boosts: number,
): Promise<{ latenessMs: number[]; missed: number; duplicated: number }> => {
  const expired = await readWholeLog(store, 'BoostExpired');
  const seen = new Map<string, number>();
  const latenessMs: number[] = [];
  for (const recorded of expired) {
    const event = accountEventOf(recorded)?.event;
    if (event?.type !== 'BoostExpired') continue;
    seen.set(event.data.boostId, (seen.get(event.data.boostId) ?? 0) + 1);
    latenessMs.push(Date.parse(event.data.expiredAt) - Date.parse(event.data.dueAt));
  }
  latenessMs.sort((a, b) => a - b);
  let duplicated = 0;
  for (const n of seen.values()) duplicated += n - 1;
  return { latenessMs, missed: boosts - seen.size, duplicated };
};

/** Missed and duplicated expiries: both must be 0. */
const reportExactlyOnce = (run: string, result: { missed: number; duplicated: number }): void => {
  report({ name: `${run}: missed`, value: result.missed, unit: 'boosts', target: '0', pass: result.missed === 0 });
  report({ name: `${run}: duplicated`, value: result.duplicated, unit: 'boosts', target: '0', pass: result.duplicated === 0 });
};

export const benchExpiry = async (dir: string): Promise<void> => {
  console.log('\n# expiry: compressed timeline, real time, and memory with 1,000,000 pending');

  // 1. 100,000 boosts with random durations on a compressed (manual) timeline, one round per simulated second.
  {
    const store = new SqliteEventStore({ path: join(dir, 'compressed', 'events.db'), durability: 'normal' });
    const models = new SqliteReadModelStore(join(dir, 'compressed', 'readmodels.db'));
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    const handler = new AccountCommandHandler(store);
    const scheduler = new BoostExpiryScheduler({ store: models, handler, clock });
    const users = 1000;
    const perUser = 100;
    await Promise.all(
      Array.from({ length: users }, async (_, u) => {
        await handler.execute(
          `u${u}`,
          { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'p', now: clock.now() },
          context,
        );
        for (let b = 0; b < perUser; b++) {
          const durationHours = (1000 + Math.floor(Math.random() * (msPerHour - 1000))) / msPerHour; // 1 s … 1 h, to the millisecond
          await handler.execute(
            `u${u}`,
            {
              type: 'ActivateBoost',
              boostId: `u${u}-b${b}`,
              targetType: 'gig',
              targetId: `g${b % 50}`,
              amount: 1,
              durationHours,
              now: clock.now(),
            },
            context,
          );
        }
      }),
    );
    const projector = new Projector(store, scheduler);
    projector.start();
    await projector.waitUntilCaughtUp(120_000);
    await projector.stop();
    for (let second = 0; second <= 3600; second++) {
      clock.advance({ seconds: 1 });
      await scheduler.expireDue();
    }
    const result = await audit(store, users * perUser);
    report({
      name: 'compressed timeline (100,000 boosts, 1 s rounds): lateness p50',
      value: percentile(result.latenessMs, 50),
      unit: 'ms (simulated)',
    });
    report({ name: 'compressed timeline: lateness p99', value: percentile(result.latenessMs, 99), unit: 'ms (simulated)' });
    reportExactlyOnce('compressed timeline', result);
    await models.close();
    await store.close();
  }

  // 2. 1,000 real-time boosts of 1–10 seconds through the running system (system clock, timers).
  {
    const store = new SqliteEventStore({ path: join(dir, 'realtime', 'events.db') });
    const models = new SqliteReadModelStore(join(dir, 'realtime', 'readmodels.db'));
    const handler = new AccountCommandHandler(store);
    const scheduler = new BoostExpiryScheduler({ store: models, handler, clock: systemClock });
    const projector = new Projector(store, scheduler);
    projector.start();
    scheduler.start();
    const users = 100;
    await Promise.all(
      Array.from({ length: users }, (_, u) =>
        handler.execute(`rt${u}`, { type: 'PurchaseCredits', amount: 100_000, paymentRef: 'p', now: systemClock.now() }, context),
      ),
    );
    await Promise.all(
      Array.from({ length: users }, async (_, u) => {
        for (let b = 0; b < 10; b++) {
          const seconds = 1 + Math.random() * 9;
          await handler.execute(
            `rt${u}`,
            {
              type: 'ActivateBoost',
              boostId: `rt${u}-b${b}`,
              targetType: 'profile',
              targetId: `p${b}`,
              amount: 1,
              durationHours: seconds / 3600,
              now: systemClock.now(),
            },
            context,
          );
        }
      }),
    );
    // Give the last boosts their full 10 s, plus a margin that misses would show up in.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    await scheduler.stop();
    await projector.stop();
    const result = await audit(store, users * 10);
    report({ name: 'real time (1,000 boosts of 1–10 s): lateness p50', value: percentile(result.latenessMs, 50), unit: 'ms' });
    const p99 = percentile(result.latenessMs, 99);
    report({ name: 'real time: lateness p99', value: p99, unit: 'ms', target: '≤ 200 ms', pass: p99 <= 200 });
    reportExactlyOnce('real time', result);
    await models.close();
    await store.close();
  }

  // 3. Memory with 1,000,000 pending boosts: the pending set lives in SQLite, one round in memory.
  {
    const store = new SqliteEventStore({ path: join(dir, 'million', 'events.db'), durability: 'normal' });
    const models = new SqliteReadModelStore(join(dir, 'million', 'readmodels.db'));
    const rssBefore = process.memoryUsage().rss;
    const accounts = 10_000;
    const perAccount = 100;
    const expiresAt = DateTime.fromISO('2027-01-01T00:00:00.000Z', { zone: 'utc' }).toISO() ?? '';
    for (let a = 0; a < accounts; a += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const account = a + i;
          let balance = 1_000_000;
          const events: EventToAppend[] = [
            {
              id: uuidv7(),
              type: 'CreditsPurchased',
              data: { amount: balance, paymentRef: 'p', counterparty: platformAccounts.sales, balanceAfter: balance },
              metadata: {},
            },
          ];
          for (let b = 0; b < perAccount; b++) {
            balance -= 1;
            events.push({
              id: uuidv7(),
              type: 'BoostActivated',
              data: {
                boostId: `m${account}-${b}`,
                targetType: 'gig',
                targetId: `g${b}`,
                amount: 1,
                durationHours: 24,
                activatedAt: '2026-12-31T00:00:00.000Z',
                expiresAt,
                counterparty: platformAccounts.boosts,
                balanceAfter: balance,
              },
              metadata: {},
            });
          }
          return store.append(`account-m${account}`, events, { expectedRevision: 'no_stream' });
        }),
      );
    }
    const scheduler = new BoostExpiryScheduler({
      store: models,
      handler: new AccountCommandHandler(store),
      clock: new ManualClock('2026-12-31T00:00:00.000Z'),
    });
    const projector = new Projector(store, scheduler);
    projector.start();
    await projector.waitUntilCaughtUp(300_000);
    await projector.stop();
    await scheduler.expireDue(); // nothing due: one query, no memory growth
    const rssAfter = process.memoryUsage().rss;
    report({ name: 'pending expiries tracked', value: await scheduler.pendingCount(), unit: 'boosts' });
    report({
      name: 'RSS with 1,000,000 pending',
      value: rssAfter / 1024 / 1024,
      unit: 'MiB',
      target: '< 1 GiB',
      pass: rssAfter < 1024 ** 3,
    });
    report({ name: 'RSS growth while loading 1,000,000 pending', value: (rssAfter - rssBefore) / 1024 / 1024, unit: 'MiB' });
    await models.close();
    await store.close();
  }
};
