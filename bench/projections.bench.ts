import { join } from 'node:path';
import { DateTime } from 'luxon';
import { v7 as uuidv7 } from 'uuid';
import {
  AccountCommandHandler,
  type AccountEvent,
  type EventToAppend,
  platformAccounts,
  SqliteEventStore,
} from '../ledger/src/index.js';
import {
  AccountBalancesProjection,
  Projector,
  rebuild,
  rebuildTogether,
  SqliteReadModelStore,
} from '../projections/src/index.js';
import { percentile, report } from './report.js';

const eventsTotal = 1_000_000;
const accounts = 1000;

/**
 * One account's history of valid events (balances chained through balanceAfter): a purchase, then
 * boosts of profiles, gigs and clans (some expiring), contributions, spends and gig payments.
 */
function* accountHistory(account: number, length: number): Generator<AccountEvent> {
  let balance = 1_000_000_000;
  yield {
    type: 'CreditsPurchased',
    data: { amount: balance, paymentRef: `seed-${account}`, counterparty: platformAccounts.sales, balanceAfter: balance },
  };
  const active: {
    boostId: string;
    targetType: 'profile' | 'gig' | 'clan';
    targetId: string;
    amount: number;
    expiresAt: string;
  }[] = [];
  for (let n = 1; n < length; n++) {
    const amount = 1 + (n % 5);
    // Every sixth event expires the oldest active boost; with none active, it is a contribution.
    const oldest = n % 6 === 2 ? active.shift() : undefined;
    switch (n % 6 === 2 && oldest === undefined ? 3 : n % 6) {
      case 0:
      case 1: {
        const targetType = (['profile', 'gig', 'clan'] as const)[n % 3] ?? 'gig';
        const boost = {
          boostId: `b-${account}-${n}`,
          targetType,
          targetId: `${targetType}-${(account * 7 + n) % 500}`,
          amount,
          expiresAt: '2026-06-30T13:30:00.000Z',
        };
        balance -= amount;
        active.push(boost);
        yield {
          type: 'BoostActivated',
          data: {
            ...boost,
            durationHours: 24,
            activatedAt: '2026-06-29T13:30:00.000Z',
            counterparty: platformAccounts.boosts,
            balanceAfter: balance,
          },
        };
        break;
      }
      case 2:
        if (oldest !== undefined) {
          yield {
            type: 'BoostExpired',
            data: {
              boostId: oldest.boostId,
              targetType: oldest.targetType,
              targetId: oldest.targetId,
              amount: oldest.amount,
              dueAt: oldest.expiresAt,
              expiredAt: oldest.expiresAt,
            },
          };
        }
        break;
      case 3:
        balance -= amount;
        yield {
          type: 'ClanContributionMade',
          data: { clanId: `clan-${account % 50}`, amount, counterparty: `clan:clan-${account % 50}`, balanceAfter: balance },
        };
        break;
      case 4:
        balance -= amount;
        yield {
          type: 'CreditsSpent',
          data: {
            amount,
            targetType: 'gig',
            targetId: `gig-${n % 300}`,
            reason: '',
            counterparty: platformAccounts.spending,
            balanceAfter: balance,
          },
        };
        break;
      default:
        balance -= amount;
        yield {
          type: 'GigPaymentSent',
          data: {
            transferId: `t-${account}-${n}`,
            gigId: `gig-${n % 300}`,
            payeeId: `acct-${(account + 1) % accounts}`,
            amount,
            counterparty: platformAccounts.gigPaymentsInTransit,
            balanceAfter: balance,
          },
        };
    }
  }
}

export const seed = async (store: SqliteEventStore, total = eventsTotal): Promise<void> => {
  const perAccount = total / accounts;
  const histories = Array.from({ length: accounts }, (_, a) => accountHistory(a, perAccount));
  const revisions = new Array<number>(accounts).fill(-1);
  const chunk = 100;
  for (let written = 0; written < total;) {
    const appends: Promise<unknown>[] = [];
    for (let a = 0; a < accounts && written < total; a++) {
      const events: EventToAppend[] = [];
      for (let i = 0; i < chunk; i++) {
        const next = histories[a]?.next();
        if (next === undefined || next.done === true) break;
        events.push({
          id: uuidv7(),
          type: next.value.type,
          data: next.value.data,
          metadata: { schemaVersion: 1, occurredAt: '2026-06-29T13:30:00.000Z' },
        });
      }
      if (events.length === 0) continue;
      const expected = revisions[a] ?? -1;
      appends.push(store.append(`account-acct-${a}`, events, { expectedRevision: expected === -1 ? 'no_stream' : expected }));
      revisions[a] = expected + events.length;
      written += events.length;
    }
    await Promise.all(appends);
  }
};

export const benchProjections = async (dir: string): Promise<void> => {
  console.log(`\n# projections: rebuild from ${eventsTotal.toLocaleString('en-US')} events, and command → read-model latency`);
  const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
  await seed(store);

  // Baseline: a raw scan of the same events through the same store.
  let scanned = 0;
  const scanStarted = performance.now();
  for (let after = -1; ;) {
    const batch = await store.readAll({ after, maxCount: 1000 });
    if (batch.length === 0) break;
    scanned += batch.length;
    after = batch[batch.length - 1]?.position ?? after;
  }
  const scanRate = scanned / ((performance.now() - scanStarted) / 1000);
  const scanBaseline = { name: 'raw scan', value: scanRate, unit: 'events/s' };
  report({ name: 'raw scan of the log', value: scanRate, unit: 'events/s' });

  const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  const balances = await rebuild({ store, models, readModel: 'account_balances' });
  report({ name: 'rebuild account_balances', value: balances.eventsPerSecond, unit: 'events/s', baseline: scanBaseline });
  const services = await rebuild({ store, models, readModel: 'service_read_models' });
  report({ name: 'rebuild service_read_models', value: services.eventsPerSecond, unit: 'events/s', baseline: scanBaseline });
  // `rebuild --all`: every read model from one pass over the log.
  const [together] = await rebuildTogether({ store, models, readModels: ['account_balances', 'service_read_models'] });
  const all = together?.eventsPerSecond ?? 0;
  report({
    name: 'rebuild all read models (--all: one pass feeds every builder)',
    value: all,
    unit: 'events/s',
    baseline: scanBaseline,
    target: '≥ 150,000 events/s and ≥ 0.3 × raw scan',
    pass: all >= 150_000 && all / scanRate >= 0.3,
  });
  await models.close();
  await store.close();

  // Command → visible in account_balances, with 64 writers keeping the system busy.
  const liveDir = join(dir, 'live');
  const liveStore = new SqliteEventStore({ path: join(liveDir, 'events.db') });
  const liveModels = new SqliteReadModelStore(join(liveDir, 'readmodels.db'));
  const handler = new AccountCommandHandler(liveStore);
  const projector = new Projector(liveStore, new AccountBalancesProjection(liveModels));
  projector.start();
  const now = DateTime.utc();
  const context = { actor: 'bench', correlationId: 'bench', causationId: 'bench' };
  await Promise.all(
    Array.from({ length: 64 }, (_, w) =>
      handler.execute(`w${w}`, { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'seed', now }, context),
    ),
  );
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      for (let i = 0; i < 300; i++) {
        const started = performance.now();
        const result = await handler.execute(
          `w${w}`,
          { type: 'SpendCredits', amount: 1, targetType: 'gig', targetId: 'g', reason: '', now },
          context,
        );
        if (!result.ok) throw new Error(result.rejection.code);
        const position = result.events[result.events.length - 1]?.position ?? -1;
        await projector.waitFor(position);
        latencies.push(performance.now() - started);
      }
    }),
  );
  await projector.stop();
  await liveModels.close();
  await liveStore.close();
  latencies.sort((a, b) => a - b);
  report({ name: 'command → visible in account_balances, p50 (64 writers)', value: percentile(latencies, 50), unit: 'ms' });
  const p99 = percentile(latencies, 99);
  report({
    name: 'command → visible in account_balances, p99 (64 writers)',
    value: p99,
    unit: 'ms',
    target: '≤ 50 ms',
    pass: p99 <= 50,
  });
};
