// What the scheduler expires and when (to the millisecond, reused ids, fractional hours, a stuck page,
// 10,000 at once, two schedulers on one log) and what an expiry gives back to the read models. Its rounds
// (the timer, stop and start, failed rounds, a locked store, restarts, SIGKILL) are in boostExpiryRounds.int.spec.ts.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closersAfterEach, readWholeLog, tempDir } from '../../../ledger/src/testing/index.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';
import { activateBoost as boost, boostEach, expiredEvents, openBoostExpiry } from '../testing/boostExpiry.js';
import { feed } from '../testing/feed.js';
import { testContext as context } from '../testing/ledgerWithReadModels.js';
import { BoostExpiryScheduler, expiryLimits } from './boostExpiryScheduler.js';
import { pendingExpiries } from './pendingExpiries.js';

const closers = closersAfterEach(afterEach);
const open = (dir?: string) => openBoostExpiry(closers, dir);

describe('boost expiry', () => {
  it('expires a 24-hour boost at 24:00 and not a millisecond before, recording due and actual time', async () => {
    const { store, clock, handler, scheduler, project } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'b1', 24);
    await project();
    expect(await scheduler.pendingCount()).toBe(1);

    clock.set('2026-06-30T13:29:59.999Z');
    expect(await scheduler.expireDue()).toEqual([]);
    expect(await expiredEvents(store)).toEqual([]);

    clock.set('2026-06-30T13:30:00.000Z');
    expect(await scheduler.expireDue()).toEqual([
      { boostId: 'b1', userId: 'u1', dueAt: '2026-06-30T13:30:00.000Z', latenessMs: 0, appended: true },
    ]);
    const [expired] = await expiredEvents(store);
    expect(expired?.data).toMatchObject({
      boostId: 'b1',
      dueAt: '2026-06-30T13:30:00.000Z',
      expiredAt: '2026-06-30T13:30:00.000Z',
    });
    await project();
    expect(await scheduler.pendingCount()).toBe(0);
    expect(await scheduler.expireDue()).toEqual([]);
  });

  it('expires a boost id reused after its expiry once more, at its own due time', async () => {
    const { store, models, clock, handler, scheduler, project } = open();
    const services = new ServiceReadModelsProjection(models);
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'again', 1);
    await project();
    clock.advance({ hours: 1 });
    expect(await scheduler.expireDue()).toHaveLength(1);
    // Reactivated before the projection saw the first expiry: the round's clean-up must not drop it.
    await boost(handler, clock, 'u1', 'again', 2);
    await project();
    await feed(store, services);
    expect(await scheduler.pendingCount()).toBe(1);
    expect((await services.userVisibility('user123')).activeBoosts).toEqual([
      expect.objectContaining({ boostId: 'again', expiresAt: '2026-06-29T16:30:00.000Z' }),
    ]);
    clock.advance({ hours: 2 });
    expect(await scheduler.expireDue()).toEqual([
      expect.objectContaining({ boostId: 'again', dueAt: '2026-06-29T16:30:00.000Z', appended: true }),
    ]);
    expect((await expiredEvents(store)).map((e) => e.data.dueAt)).toEqual([
      '2026-06-29T14:30:00.000Z',
      '2026-06-29T16:30:00.000Z',
    ]);
    await feed(store, services);
    expect((await services.userVisibility('user123')).visibilityScore).toBe(0n);
  });

  it('handles fractional durations to the millisecond', async () => {
    const { store, clock, handler, scheduler, project } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'quarter', 0.25);
    await boost(handler, clock, 'u1', 'third', 1 / 3);
    await project();
    clock.set('2026-06-29T13:45:00.000Z');
    expect((await scheduler.expireDue()).map((o) => o.boostId)).toEqual(['quarter']);
    clock.set('2026-06-29T13:49:59.999Z');
    expect(await scheduler.expireDue()).toEqual([]);
    clock.set('2026-06-29T13:50:00.000Z');
    expect((await scheduler.expireDue()).map((o) => o.boostId)).toEqual(['third']);
    expect(await expiredEvents(store)).toHaveLength(2);
  });

  it('boosts that cannot be expired yet never hold up the ones due behind them', async () => {
    const { models, clock, handler, scheduler, project } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'not-due', 24);
    await boost(handler, clock, 'u1', 'due', 2);
    await project();
    // More pending rows than one page, all for a boost that is not due yet and all sorted first
    // (a clock that ran ahead wrote them, say): each attempt is refused with BOOST_NOT_DUE.
    const stuck = expiryLimits.dueBatchMax + 5;
    await models.commit(
      Array.from({ length: stuck }, (_, i) => {
        const dueAt = new Date(Date.parse('2026-06-29T13:30:00.000Z') + i).toISOString();
        return {
          op: 'insert' as const,
          collection: pendingExpiries.name,
          id: JSON.stringify(['u1', 'not-due', dueAt]),
          doc: { userId: 'u1', boostId: 'not-due', dueAtMs: Date.parse(dueAt), dueAt },
        };
      }),
    );
    clock.advance({ hours: 3 });
    const outcomes = await scheduler.expireDue();
    expect(outcomes.map((o) => o.boostId)).toEqual(['due']);
    expect(await scheduler.pendingCount()).toBe(stuck + 1); // the stuck rows and the real not-due one stay
  }, 60_000);

  it('expires 10,000 boosts due in the same second, each once', async () => {
    const { store, clock, handler, scheduler, project } = open();
    await boostEach(handler, clock, 100, 100);
    await project();
    expect(await scheduler.pendingCount()).toBe(10_000);
    clock.advance({ hours: 1, milliseconds: 500 });
    const outcomes = await scheduler.expireDue();
    expect(outcomes).toHaveLength(10_000);
    expect(outcomes.every((o) => o.appended && o.latenessMs === 500)).toBe(true);
    const expired = await readWholeLog(store, 'BoostExpired');
    expect(new Set(expired.map((e) => e.data.boostId)).size).toBe(10_000);
    expect(expired).toHaveLength(10_000);
  }, 120_000);

  it('two schedulers on the same log expire every boost exactly once', async () => {
    const dir = tempDir();
    const a = open(dir);
    const b = open(dir); // a second process: its own store connection, handler, clock and read models
    await a.handler.execute('u1', { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: a.clock.now() }, context);
    await a.handler.execute('u2', { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: a.clock.now() }, context);
    for (let i = 0; i < 50; i++) await boost(a.handler, a.clock, i % 2 === 0 ? 'u1' : 'u2', `b${i}`, 1);
    await a.project();
    const otherModels = new SqliteReadModelStore(join(tempDir(), 'readmodels.db'));
    closers.push(() => otherModels.close());
    const rival = new BoostExpiryScheduler({ store: otherModels, handler: b.handler, clock: b.clock });
    await feed(b.store, rival);
    a.clock.advance({ hours: 2 });
    b.clock.advance({ hours: 2 });
    const [fromA, fromB] = await Promise.all([a.scheduler.expireDue(), rival.expireDue()]);
    expect(fromA).toHaveLength(50);
    expect(fromB).toHaveLength(50);
    expect(fromA.filter((o) => o.appended).length + fromB.filter((o) => o.appended).length).toBe(50);
    const expired = await expiredEvents(a.store);
    expect(expired).toHaveLength(50);
    expect(new Set(expired.map((e) => e.data.boostId)).size).toBe(50);
  });

  it("returns the user's visibility, the gig's rank and the clan's reputation to exactly what they were", async () => {
    const { store, models, clock, handler, scheduler, project } = open();
    const services = new ServiceReadModelsProjection(models);
    const projectServices = (): Promise<void> => feed(store, services);
    const read = async () => ({
      user: await services.userVisibility('user123'),
      gig: await services.gig('gig9'),
      clan: await services.clanReputation('clan9'),
    });
    /** What a boost's expiry must restore: scores and active boosts (history counters keep counting). */
    const scores = (r: Awaited<ReturnType<typeof read>>) => ({
      visibility: r.user.visibilityScore,
      userBoosts: r.user.activeBoosts,
      userCredits: r.user.activeBoostCredits,
      rank: r.gig?.rankScore,
      gigBoosts: r.gig?.activeBoosts,
      reputation: r.clan.reputation,
      clanBoosts: r.clan.activeBoosts,
    });
    const activate = async (
      boostId: string,
      targetType: 'profile' | 'gig' | 'clan',
      targetId: string,
      amount: number,
      durationHours: number,
    ) => {
      const result = await handler.execute(
        'fan',
        { type: 'ActivateBoost', boostId, targetType, targetId, amount, durationHours, now: clock.now() },
        context,
      );
      if (!result.ok) throw new Error(result.rejection.code);
    };
    await handler.execute('fan', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p', now: clock.now() }, context);
    // Earlier, longer boosts and activity that must survive the short boosts' expiry.
    await activate('long-p', 'profile', 'user123', 10, 48);
    await activate('long-g', 'gig', 'gig9', 10, 48);
    await handler.execute(
      'fan',
      { type: 'PayForGig', transferId: 't1', gigId: 'gig9', payeeId: 'seller', amount: 25, now: clock.now() },
      context,
    );
    await handler.execute('fan', { type: 'ContributeToClan', clanId: 'clan9', amount: 40, now: clock.now() }, context);
    await projectServices();
    const before = await read();

    await activate('short-p', 'profile', 'user123', 7, 1);
    await activate('short-g', 'gig', 'gig9', 5, 1);
    await activate('short-c', 'clan', 'clan9', 30, 1);
    await project();
    await projectServices();
    const during = await read();
    expect(during.user.visibilityScore).toBe(before.user.visibilityScore + 7n);
    expect(during.gig?.rankScore).toBe((before.gig?.rankScore ?? 0n) + 100n * 5n);
    expect(during.clan.reputation).toBe(before.clan.reputation + 2n * 30n);

    clock.advance({ hours: 1 });
    expect(await scheduler.expireDue()).toHaveLength(3);
    await projectServices();
    expect(scores(await read())).toEqual(scores(before));
    expect((await read()).user.boostsReceived).toBe(2); // the history still shows both boosts
  });
});
