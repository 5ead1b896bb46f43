import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAccountStream, ManualClock, type AccountCommand } from '../../../ledger/src/index.js';
import { closersAfterEach, readWholeLog, until as pollUntil } from '../../../ledger/src/testing/index.js';
import {
  ServiceReadModelsProjection,
  clanContributorCodec,
  clanReputationCodec,
  gigRankingCodec,
  userVisibilityCodec,
  type DocumentCodec,
  type StoredDoc,
} from '../../../projections/src/index.js';
import {
  dumpReadModel,
  feed,
  openLedgerWithVhost,
  startRelaying,
  startSettlement,
} from '../../../projections/src/testing/index.js';
import { startServiceConsumer, type ServiceConsumer } from './serviceConsumer.js';
import { serviceNames, services, type ServiceName } from './serviceStore.js';

/**
 * The test: a service fed from its queue (through the real relay and the real broker, in a vhost of
 * this test's own) ends with the same read model as the projection fed from the log.
 */
const clock = new ManualClock('2026-01-01T00:00:00.000Z');
const context = { actor: 'test', correlationId: 'corr-1', causationId: 'c' };
const closers = closersAfterEach(afterEach);
const until = (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> =>
  pollUntil(condition, { what, timeoutMs, intervalMs: 10 });

// Seven contributors to one clan: more than topContributorsMax, so the top is a real cut.
const users = ['ana', 'ben', 'cai', 'dee', 'eve', 'fay', 'gus'];

/** Every command that appends an account event, with boosts of all three kinds, some expired, some not. */
const commandsOf = (user: string, u: number, r: number): AccountCommand[] => [
  { type: 'PurchaseCredits', amount: 500, paymentRef: `p-${r}`, now: clock.now() },
  { type: 'EarnCredits', amount: 5, source: 'referral', refId: `ref-${r}`, now: clock.now() },
  {
    type: 'SpendCredits',
    amount: 7 + u,
    targetType: (['gig', 'clan', 'profile', 'other'] as const)[(u + r) % 4] ?? 'gig',
    targetId: `t${u % 2}`,
    reason: '',
    now: clock.now(),
  },
  {
    type: 'ActivateBoost',
    boostId: `b-${r}`,
    targetType: (['profile', 'gig', 'clan'] as const)[(u + r) % 3] ?? 'gig',
    targetId: (['ana', 'g1', 'clan-1'] as const)[(u + r) % 3] ?? 'g1',
    amount: 3 + r,
    durationHours: 1 + u,
    now: clock.now(),
  },
  { type: 'ContributeToClan', clanId: u === 0 ? 'clan-0' : 'clan-1', amount: 5 + u * r, now: clock.now() },
  {
    type: 'PayForGig',
    transferId: `t-${r}`,
    gigId: `g${u % 3}`,
    payeeId: users[(u + 1) % users.length] ?? 'ana',
    amount: 11,
    now: clock.now(),
  },
  // Every other round's boost expires; the others stay active.
  ...(r % 2 === 0 ? [{ type: 'ExpireBoost', boostId: `b-${r}`, now: clock.now().plus({ hours: 48 }) } as const] : []),
];

/** The projection's stored documents as the folds see them (exact totals decoded, store fields left out). */
const decoded = <T>(docs: readonly StoredDoc[] | undefined, codec: DocumentCodec<T>): T[] =>
  (docs ?? []).map((doc) => codec.decode(Object.fromEntries(Object.entries(doc).filter(([key]) => !key.startsWith('_')))));

const byKey =
  (...keys: string[]) =>
  (a: object, b: object): number => {
    for (const key of keys) {
      const order = String((a as Record<string, unknown>)[key]).localeCompare(String((b as Record<string, unknown>)[key]));
      if (order !== 0) return order;
    }
    return 0;
  };

describe('the user, gig and clan services fed from their queues', () => {
  it('end with the documents the projection folds from the log', async () => {
    const ledger = await openLedgerWithVhost(closers, clock);
    const { dir, store, models, handler, vhost } = ledger;

    // The services start first: they declare the relay's topology themselves, so nothing published is missed.
    const consumers = {} as Record<ServiceName, ServiceConsumer>;
    for (const service of serviceNames) {
      consumers[service] = await startServiceConsumer({
        url: vhost.url(),
        service,
        database: join(dir, `${service}-service.db`),
        retry: { attemptsMax: 3, backoffMsBase: 1, backoffMsMax: 4 },
      });
      closers.push(() => consumers[service].stop());
    }

    startSettlement(closers, ledger);
    await startRelaying(closers, store, vhost.url(), ledger.checkpoint);

    for (let r = 0; r < 4; r++) {
      await Promise.all(
        users.map(async (user, u) => {
          for (const command of commandsOf(user, u, r)) {
            const result = await handler.execute(user, command, context);
            if (!result.ok) throw new Error(`${user} ${command.type}: ${result.rejection.code}`);
          }
        }),
      );
    }
    // Settlement appends a GigPaymentReceived per payment: wait for those, then for every message to be consumed.
    const payments = users.length * 4;
    await until('every gig payment settled', async () => (await readWholeLog(store, 'GigPaymentReceived')).length === payments);
    const accountEvents = (await readWholeLog(store)).filter((e) => isAccountStream(e.stream)).length;
    await until('every message consumed by every service', () =>
      serviceNames.every((service) => {
        const stats = consumers[service].consumer.stats;
        return stats.processed + stats.duplicates >= accountEvents;
      }),
    );

    const projection = new ServiceReadModelsProjection(models);
    await feed(store, projection);
    const projected = await dumpReadModel(projection);

    const user = consumers.user.store;
    const gig = consumers.gig.store;
    const clan = consumers.clan.store;
    expect(user.documents('user_visibility').length).toBeGreaterThan(0);
    expect(user.documents('user_visibility')).toEqual(
      decoded(projected.user_visibility, userVisibilityCodec).sort(byKey('userId')),
    );
    expect(gig.documents('gig_ranking').length).toBeGreaterThan(0);
    expect(gig.documents('gig_ranking')).toEqual(decoded(projected.gig_ranking, gigRankingCodec).sort(byKey('gigId')));
    expect(clan.documents('clan_reputation').some((doc) => doc.topContributors.length === 5)).toBe(true);
    expect(clan.documents('clan_reputation')).toEqual(
      decoded(projected.clan_reputation, clanReputationCodec).sort(byKey('clanId')),
    );
    expect(clan.documents('clan_contributors')).toEqual(
      decoded(projected.clan_contributors, clanContributorCodec).sort(byKey('clanId', 'userId')),
    );

    // The seed's tables hold the same events as the projection's logs of the same name (the user service
    // files only the credit types the seed lists for it: its purchases, spends and earnings).
    const eventIds = (service: ServiceName, table: string): string[] =>
      consumers[service].store.db
        .prepare<[], { id: string }>(`SELECT event_id AS id FROM ${table} ORDER BY position`)
        .all()
        .map((row) => row.id);
    const projectedIds = (log: string, types?: readonly string[]): string[] =>
      (projected[log] ?? [])
        .filter((entry) => types === undefined || types.includes(entry.type as string))
        .map((entry) => entry.eventId as string);
    for (const service of serviceNames) {
      expect(eventIds(service, services[service].boostLog)).toEqual(projectedIds(services[service].boostLog));
      expect(eventIds(service, services[service].boostLog).length).toBeGreaterThan(0);
    }
    expect(eventIds('gig', 'gig_credit_events')).toEqual(projectedIds('gig_credit_events'));
    expect(eventIds('clan', 'clan_credit_events')).toEqual(projectedIds('clan_credit_events'));
    expect(eventIds('user', 'user_credit_events')).toEqual(
      projectedIds('user_credit_events', ['CreditsPurchased', 'CreditsSpent', 'CreditsEarned', 'GigPaymentReceived']),
    );
    // Nothing was dead-lettered: every message matched the relay's schema.
    for (const service of serviceNames) expect(consumers[service].consumer.stats.deadLettered).toBe(0);
  }, 180_000);
});
