import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock, SqliteEventStore } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { ServiceReadModelsProjection } from './serviceReadModels.js';
import { feed } from '../testing/feed.js';
import { openLedgerWithReadModels, type LedgerWithReadModels } from '../testing/ledgerWithReadModels.js';

let ledger: LedgerWithReadModels;
let store: SqliteEventStore;
let models: SqliteReadModelStore;
let projection: ServiceReadModelsProjection;
let clock: ManualClock;

beforeEach(() => {
  ledger = openLedgerWithReadModels();
  ({ store, models, clock } = ledger);
  projection = new ServiceReadModelsProjection(models);
});
afterEach(async () => {
  await ledger.close();
  removeTempDirs();
});

const run: LedgerWithReadModels['run'] = (userId, command) => ledger.run(userId, command);
/** Projects everything appended so far (the runtime's job, done by hand for given/when/then). */
const project = (): Promise<void> => feed(store, projection);
const boost = (
  boostId: string,
  targetType: 'profile' | 'gig' | 'clan',
  targetId: string,
  amount: number,
  durationHours: number,
) => ({ type: 'ActivateBoost', boostId, targetType, targetId, amount, durationHours }) as const;

describe('service read models', () => {
  it("a profile boost raises the user's visibility while active, and its expiry removes exactly its share", async () => {
    await run('booster456', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p' });
    await run('fan', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p' });
    await run('fan', boost('b-fan', 'profile', 'user123', 40, 48));
    await project();
    const before = await projection.userVisibility('user123');
    expect(before).toMatchObject({ visibilityScore: 40n, boostsReceived: 1 });

    await run('booster456', boost('b1', 'profile', 'user123', 100, 24));
    await project();
    expect(await projection.userVisibility('user123')).toMatchObject({
      visibilityScore: 140n,
      activeBoosts: [
        { boostId: 'b-fan', boosterId: 'fan', amount: 40 },
        { boostId: 'b1', boosterId: 'booster456', amount: 100, expiresAt: '2026-06-30T13:30:00.000Z' },
      ],
      lastBoostAt: '2026-06-29T13:30:00.000Z',
    });

    clock.advance({ hours: 24 });
    await run('booster456', { type: 'ExpireBoost', boostId: 'b1' });
    await project();
    const after = await projection.userVisibility('user123');
    expect(after?.visibilityScore).toBe(before?.visibilityScore);
    expect(after?.activeBoosts).toEqual(before?.activeBoosts);
    const events = await projection.userBoostEvents('user123', 10);
    // Newest first, each the event's envelope with its data: b-fan activated, b1 activated, b1 expired.
    expect(events.map((e) => [e.type, (e.data as { boostId: string }).boostId])).toEqual([
      ['BoostExpired', 'b1'],
      ['BoostActivated', 'b1'],
      ['BoostActivated', 'b-fan'],
    ]);
    expect(events[0]).toMatchObject({ userId: 'booster456', subjectId: 'user123', data: { amount: 100 } });
    // Filed under user123, the booster's entries do not show the booster's balance.
    for (const entry of events) expect(entry.data).not.toHaveProperty('balanceAfter');
    // Nor does a boost of one's own profile: others can read that log too.
    await run('fan', boost('b-self', 'profile', 'fan', 5, 1));
    await project();
    const own = await projection.userBoostEvents('fan', 10);
    expect(own.map((e) => e.type)).toEqual(['BoostActivated']);
    expect(own[0]?.data).not.toHaveProperty('balanceAfter');
    const stored = await models.find('user_boost_events__v1', { where: { subjectId: 'fan' } });
    expect(stored[0]?.data).not.toHaveProperty('balanceAfter');
    expect(events[1]?.data).toMatchObject({ counterparty: 'platform:boosts', expiresAt: '2026-06-30T13:30:00.000Z' });
    expect(Object.keys(events[0] ?? {}).sort()).toEqual([
      'data',
      'eventId',
      'occurredAt',
      'position',
      'subjectId',
      'type',
      'userId',
    ]);
  });

  it('gig rank counts active boosts and spends on the gig, payments beside it; ranking pages are ordered by score, ties by id', async () => {
    await run('buyer', { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p' });
    await run('buyer', boost('g-b1', 'gig', 'gig-b', 5, 1));
    await run('buyer', boost('g-a1', 'gig', 'gig-a', 5, 1));
    await run('buyer', { type: 'PayForGig', transferId: 't1', gigId: 'gig-c', payeeId: 'seller', amount: 700 });
    await run('buyer', { type: 'SpendCredits', amount: 9, targetType: 'gig', targetId: 'gig-c', reason: '' });
    await project();
    expect(await projection.gig('gig-c')).toMatchObject({
      rankScore: 9n,
      paymentsTotal: 700n,
      paymentsCount: 1,
      creditsSpentOn: 9n,
    });
    expect(await projection.gig('gig-a')).toMatchObject({ rankScore: 500n });
    // The gig's log shows the payment and the spend, not the buyer's balance; the buyer's own log does.
    const gigLog = await models.find('gig_credit_events__v1', { where: { subjectId: 'gig-c' }, orderBy: [['_id', 1]] });
    expect(gigLog.map((e) => e.type)).toEqual(['GigPaymentSent', 'CreditsSpent']);
    for (const entry of gigLog) expect(entry.data).not.toHaveProperty('balanceAfter');
    const buyerLog = await models.find('user_credit_events__v1', { where: { subjectId: 'buyer' }, orderBy: [['_id', 1]] });
    expect(buyerLog.map((e) => (e.data as { balanceAfter: number }).balanceAfter)).toEqual([10_000, 9_290, 9_281]);

    const page1 = await projection.gigRanking(2);
    expect(page1.map((g) => g.gigId)).toEqual(['gig-a', 'gig-b']);
    const last = page1.at(-1);
    const page2 = await projection.gigRanking(2, { score: last?.rankScore ?? 0n, id: last?.gigId ?? '' });
    expect(page2.map((g) => g.gigId)).toEqual(['gig-c']);

    clock.advance({ hours: 1 });
    await run('buyer', { type: 'ExpireBoost', boostId: 'g-a1' });
    await project();
    expect(await projection.gig('gig-a')).toMatchObject({ rankScore: 0n, activeBoosts: [] });
  });

  it('clan reputation sums contributions and active boosts, and keeps the top contributors', async () => {
    for (const [user, amount] of [
      ['ana', 50],
      ['ben', 80],
      ['cai', 50],
      ['ana', 40],
    ] as const) {
      await run(user, { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p' });
      await run(user, { type: 'ContributeToClan', clanId: 'clan456', amount });
    }
    await run('ben', boost('c1', 'clan', 'clan456', 300, 72));
    await project();
    expect(await projection.clanReputation('clan456')).toMatchObject({
      contributionsTotal: 220n,
      contributors: 3,
      reputation: 220n + 2n * 300n,
      topContributors: [
        { userId: 'ana', total: 90n },
        { userId: 'ben', total: 80n },
        { userId: 'cai', total: 50n },
      ],
    });
    clock.advance({ hours: 72 });
    await run('ben', { type: 'ExpireBoost', boostId: 'c1' });
    await project();
    expect(await projection.clanReputation('clan456')).toMatchObject({ reputation: 220n, activeBoosts: [] });
  });

  it('top contributors tied at the cut are the same one event at a time as in one batch (store string order)', async () => {
    // Ids past U+FFFF (emoji) and in U+E000–U+FFFF (fullwidth letters) sort differently by UTF-16
    // code unit (JavaScript) and by code point (the stores).
    const tied = ['😀a', '😀b', '！a', '！b', '！c', '！d', '！e'];
    for (const user of [...tied, '😀0']) {
      await run(user, { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p' });
      await run(user, { type: 'ContributeToClan', clanId: 'c', amount: 10 });
    }
    const events = await store.readAll();
    for (const event of events) await projection.handle([event]);
    const oneByOne = (await projection.clanReputation('c')).topContributors;

    const other = new SqliteReadModelStore(join(tempDir(), 'readmodels.db'));
    try {
      const inOneBatch = new ServiceReadModelsProjection(other);
      await inOneBatch.handle(events);
      expect((await inOneBatch.clanReputation('c')).topContributors).toEqual(oneByOne);
    } finally {
      await other.close();
    }
    expect(oneByOne.map((c) => c.userId)).toEqual(['！a', '！b', '！c', '！d', '！e']); // U+FF01 < U+1F600
  });

  it('the same batch delivered twice changes nothing', async () => {
    await run('u', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p' });
    await run('u', boost('b', 'gig', 'g', 10, 5));
    await run('u', { type: 'ContributeToClan', clanId: 'c', amount: 10 });
    const events = await store.readAll();
    await projection.handle(events);
    const snapshot = [await projection.gig('g'), await projection.clanReputation('c')];
    await projection.handle(events);
    await projection.handle(events.slice(1));
    expect([await projection.gig('g'), await projection.clanReputation('c')]).toEqual(snapshot);
  });
});

describe('a data directory whose read models older folds built', () => {
  /** The projection as the code before the current folds made it. */
  class OlderFolds extends ServiceReadModelsProjection {
    override readonly foldsVersion = projection.foldsVersion - 1;
  }

  it('is refolded into a new version at start-up, once, and readers move to it', async () => {
    await run('mallory', { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p' });
    await run('mallory', { type: 'PayForGig', transferId: 't1', gigId: 'gig-c', payeeId: 'trent', amount: 700 });
    await feed(store, new OlderFolds(models));
    // What the older folds left: a document the current folds would not make (a score of 0 here).
    await models.commit([
      { op: 'put', collection: 'gig_ranking__v1', id: 'gig-c', position: 10_000, doc: { gigId: 'gig-c', rankScore: 700 } },
    ]);

    expect(await projection.loadCheckpoint()).toBe(-1);
    expect(await models.activeVersion('service_read_models')).toBe(2);
    await project();
    expect(await projection.gig('gig-c')).toMatchObject({ rankScore: 0n, paymentsTotal: 700n, paymentsCount: 1 });

    // The next start finds readers on a version the current folds built, and carries on from its checkpoint.
    const restarted = new ServiceReadModelsProjection(models);
    expect(await restarted.loadCheckpoint()).toBeGreaterThan(-1);
    expect(await models.activeVersion('service_read_models')).toBe(2);
  });
});
