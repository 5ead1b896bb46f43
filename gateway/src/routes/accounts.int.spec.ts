import { afterEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler } from '../../../ledger/src/index.js';
import { removeTempDirs } from '../../../ledger/src/testing/index.js';
import { AccountBalancesProjection, ReadModelStoreUnavailableError } from '../../../projections/src/index.js';
import { bearer, dataDirWithReadModels, openTestApp, paymentService, settle, type TestApp } from '../testing/testApp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  removeTempDirs();
});

/** An app over a log with one purchase, whose projectors have not caught up with it (and never will). */
const openStalled = async (): Promise<TestApp> => {
  const seeding = await openTestApp();
  await post(seeding, '/api/credits/purchase', { amount: 5, paymentRef: 'p' }, 'ana');
  await seeding.close();
  return openTestApp({ path: seeding.path, withProjections: true, stalledProjections: true });
};

/** A command of `user`'s; a purchase is the payment service's, for `user`. */
const post = (app: TestApp, url: string, payload: Record<string, unknown>, user: string) =>
  url.endsWith('/purchase')
    ? app.app.inject({ method: 'POST', url, payload: { ...payload, userId: user }, headers: paymentService() })
    : app.app.inject({ method: 'POST', url, payload, headers: bearer(user) });

describe('GET /api/accounts/:accountId/balance', () => {
  it('shows users, clans and platform accounts to admins, settled payments included, and the books sum to zero', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await post(app, '/api/credits/purchase', { amount: 500, paymentRef: 'p' }, 'ana');
    await post(app, '/api/credits/gig-payment', { gigId: 'g1', payeeId: 'ben', amount: 120 }, 'ana');
    await post(app, '/api/credits/clan-contribution', { clanId: 'clan456', amount: 30 }, 'ana');
    await post(app, '/api/credits/boost/clan', { targetClanId: 'clan456', amount: 50, duration: 2 }, 'ana');
    await settle(app);

    const balance = async (account: string): Promise<unknown> =>
      (await app.app.inject({ url: `/api/accounts/${account}/balance`, headers: bearer('ops', ['admin']) })).json();
    expect(await balance('ana')).toMatchObject({ account: 'user:ana', kind: 'user', balance: '300', lagEvents: 0 });
    expect(await balance('user:ben')).toMatchObject({ balance: '120' });
    expect(await balance('clan:clan456')).toMatchObject({ kind: 'clan', balance: '30' });
    expect(await balance('platform:sales')).toMatchObject({ kind: 'platform', balance: '-500' });
    expect(await balance('platform:boosts')).toMatchObject({ balance: '50' });
    expect(await balance('platform:gig-payments-in-transit')).toMatchObject({ balance: '0' });
    expect(await balance('clan:nobody')).toMatchObject({ balance: '0', position: -1 });
    expect((await app.projections?.balances.totals())?.total).toBe(0n);
  });

  it('serves a platform balance past 2^53 exactly, as a decimal string, and keeps the read model live', async () => {
    // A data directory whose platform:sales a long history has brought near -2^53.
    const nearLimit = (-(2n ** 53n) + 1000n).toString();
    const path = await dataDirWithReadModels(async (seeded) => {
      await new AccountBalancesProjection(seeded).loadCheckpoint();
      await seeded.commit([
        {
          op: 'put',
          collection: 'account_balances__v1',
          id: 'platform:sales',
          position: -1,
          doc: { account: 'platform:sales', kind: 'platform', balance: nearLimit, position: -1 },
        },
      ]);
    });
    const app = (t = await openTestApp({ path, withProjections: true }));
    const handler = new AccountCommandHandler(app.store);
    for (const userId of ['a', 'b', 'c'])
      await handler.execute(
        userId,
        { type: 'PurchaseCredits', amount: 1_000_000_000, paymentRef: 'p', now: app.clock.now() },
        { actor: 'test', correlationId: 'seed', causationId: 'seed' },
      );
    await settle(app);

    const balance = async (account: string): Promise<unknown> =>
      (await app.app.inject({ url: `/api/accounts/${account}/balance`, headers: bearer('ops', ['admin']) })).json();
    expect(await balance('platform:sales')).toEqual({
      account: 'platform:sales',
      kind: 'platform',
      balance: '-9007202254739992',
      position: expect.any(Number),
      lagEvents: 0,
    });
    expect(await balance('a')).toMatchObject({ balance: '1000000000' });
    // Still live: the next event is folded too.
    await handler.execute(
      'd',
      { type: 'PurchaseCredits', amount: 7, paymentRef: 'p', now: app.clock.now() },
      { actor: 'test', correlationId: 'seed', causationId: 'seed' },
    );
    await settle(app);
    expect(await balance('platform:sales')).toMatchObject({ balance: '-9007202254739999' });
  });

  it('is for admins only', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    const response = await app.app.inject({ url: '/api/accounts/platform:sales/balance', headers: bearer('ana') });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('answers 503 with the lag while the read model has never caught up', async () => {
    const app = (t = await openStalled());
    const response = await app.app.inject({ url: '/api/accounts/ana/balance', headers: bearer('ops', ['admin']) });
    expect(response.statusCode, response.body).toBe(503);
    expect(response.json()).toMatchObject({ code: 'READ_MODEL_NOT_READY', message: expect.stringMatching(/1 events behind/) });
  });

  it('exposes projection lag in /metrics and the read models in /ready', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await post(app, '/api/credits/purchase', { amount: 5, paymentRef: 'p' }, 'ana');
    await settle(app);
    const metrics = (await app.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/projection_lag_events\{projection="account_balances"\} 0/);
    expect(metrics).toMatch(/projection_checkpoint_position\{projection="gig_payment_settlement"\} 1/);
    expect(metrics).toMatch(/projection_retries\{projection="service_read_models"\} 0/);
    expect(metrics).toMatch(/boost_expiry_pending 0/);
    expect(metrics).toMatch(/boost_expiry_lateness_seconds_count/);
    expect((await app.app.inject({ url: '/ready' })).json()).toEqual({
      status: 'ready',
      checks: { eventStore: 'ok', readModels: 'ok', projections: 'ok' },
    });
  });
});

describe('service read-model routes', () => {
  const get = (app: TestApp, url: string) => app.app.inject({ url, headers: bearer('reader') });

  it('shows a boost in visibility, ranking and reputation, and pages rankings with a cursor', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await post(app, '/api/credits/purchase', { amount: 5000, paymentRef: 'p' }, 'booster456');
    await post(app, '/api/credits/boost/profile', { targetUserId: 'user123', amount: 100, duration: 24 }, 'booster456');
    for (const [gigId, amount] of [
      ['gig-x', 30],
      ['gig-y', 10],
      ['gig-z', 20],
    ] as const) {
      await post(app, '/api/credits/boost/gig', { targetGigId: gigId, amount, duration: 2 }, 'booster456');
    }
    await post(app, '/api/credits/clan-contribution', { clanId: 'clan456', amount: 70 }, 'booster456');
    await settle(app);

    expect((await get(app, '/api/users/user123/visibility')).json()).toMatchObject({
      userId: 'user123',
      visibilityScore: '100',
      activeBoosts: [{ boosterId: 'booster456', amount: 100 }],
    });
    expect((await get(app, '/api/users/user123/boosts?active=true')).json()).toMatchObject({ boosts: [{ amount: 100 }] });
    expect((await get(app, '/api/users/nobody/visibility')).json()).toMatchObject({ visibilityScore: '0', activeBoosts: [] });
    expect((await get(app, '/api/gigs/gig-y')).json()).toMatchObject({ gigId: 'gig-y', rankScore: '1000' });
    expect((await get(app, '/api/gigs/unknown-gig')).statusCode).toBe(404);
    expect((await get(app, '/api/clans/clan456/reputation')).json()).toMatchObject({
      reputation: '70',
      topContributors: [{ userId: 'booster456', total: '70' }],
    });

    const first = (await get(app, '/api/gigs/ranking?limit=2')).json();
    expect(first.items.map((g: { gigId: string }) => g.gigId)).toEqual(['gig-x', 'gig-z']);
    const second = (await get(app, `/api/gigs/ranking?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((g: { gigId: string }) => g.gigId)).toEqual(['gig-y']);
    expect(second.nextCursor).toBeNull();
    expect((await get(app, '/api/gigs/ranking?cursor=garbage')).json()).toMatchObject({
      statusCode: 400,
      code: 'INVALID_CURSOR',
    });
    expect((await get(app, '/api/clans/ranking')).json().items.map((c: { clanId: string }) => c.clanId)).toEqual(['clan456']);
  });

  it('does not rank a gig up for two accounts paying each other back and forth for it; a boost and a spend do', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    // Credits to start with, straight through the command handler (who may buy credits is not this test's subject).
    const seeding = new AccountCommandHandler(app.store);
    for (const userId of ['mallory', 'trent', 'honest'])
      await seeding.execute(
        userId,
        { type: 'PurchaseCredits', amount: 10_000, paymentRef: `seed-${userId}`, now: app.clock.now() },
        { actor: 'test', correlationId: 'seed', causationId: 'seed' },
      );
    for (let i = 0; i < 4; i++) {
      const [from, to] = i % 2 === 0 ? ['mallory', 'trent'] : ['trent', 'mallory'];
      const paid = await post(app, '/api/credits/gig-payment', { gigId: 'gig-churned', payeeId: to, amount: 5_000 }, from);
      expect(paid.statusCode, paid.body).toBe(201);
      await settle(app); // each payee is paid before paying back
    }
    await post(app, '/api/credits/boost/gig', { targetGigId: 'gig-boosted', amount: 1, duration: 2 }, 'honest');
    await post(app, '/api/credits/spend', { amount: 7, targetType: 'gig', targetId: 'gig-spent', reason: 'tip' }, 'honest');
    await settle(app);

    const ranking = (await get(app, '/api/gigs/ranking')).json();
    expect(ranking.items.map((g: { gigId: string; rankScore: string }) => [g.gigId, g.rankScore])).toEqual([
      ['gig-boosted', '100'],
      ['gig-spent', '7'],
      ['gig-churned', '0'],
    ]);
    expect(ranking.items[2]).toMatchObject({ paymentsTotal: '20000', paymentsCount: 4, creditsSpentOn: '0' });
  });

  it('reads back ids of the longest valid length in any script through path parameters (414 only past that)', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    const gigId = 'g'.repeat(128);
    const userId = '用'.repeat(128); // 9 characters each once percent-encoded
    expect((await post(app, '/api/credits/purchase', { amount: 50, paymentRef: 'p' }, userId)).statusCode).toBe(201);
    expect((await post(app, '/api/credits/boost/gig', { targetGigId: gigId, amount: 5, duration: 1 }, userId)).statusCode).toBe(
      201,
    );
    expect(
      (await post(app, '/api/credits/boost/profile', { targetUserId: userId, amount: 7, duration: 1 }, userId)).statusCode,
    ).toBe(201);
    await settle(app);
    expect((await get(app, `/api/gigs/${gigId}`)).json()).toMatchObject({ gigId, rankScore: '500' });
    const encoded = encodeURIComponent(userId);
    expect((await get(app, `/api/users/${encoded}/visibility`)).json()).toMatchObject({ userId, visibilityScore: '7' });
    expect((await get(app, `/api/users/${encoded}/boosts`)).statusCode).toBe(200);
    const admin = await app.app.inject({
      url: `/api/accounts/${encodeURIComponent(`user:${userId}`)}/balance`,
      headers: bearer('root', ['admin']),
    });
    expect(admin.json()).toMatchObject({ account: `user:${userId}`, balance: '38' });

    const tooLong = await get(app, `/api/gigs/${'g'.repeat(3000)}`);
    expect(tooLong.statusCode).toBe(414);
    expect(tooLong.json()).toMatchObject({ statusCode: 414, code: 'FST_ERR_MAX_PARAM_LENGTH', error: 'URI Too Long' });
    expect(tooLong.headers['x-request-id']).toBeTypeOf('string');
  });

  it('answers 503 with the lag while the read models have never caught up, and 401 without a token', async () => {
    const app = (t = await openStalled());
    const response = await get(app, '/api/gigs/ranking');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      code: 'READ_MODEL_NOT_READY',
      message: expect.stringMatching(/service_read_models is still being built: 1 events behind/),
    });
    expect((await app.app.inject({ url: '/api/gigs/ranking' })).statusCode).toBe(401);
  });
});

describe('reactors and client idempotency keys', () => {
  it("a client's Idempotency-Key cannot take the key a reactor uses for its own command", async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await post(app, '/api/credits/purchase', { amount: 500, paymentRef: 'p' }, 'ana');
    const boosted = (
      await post(app, '/api/credits/boost/profile', { targetUserId: 'user123', amount: 100, duration: 1 }, 'ana')
    ).json<{ boostId: string; expiresAt: string }>();
    // The key the expiry scheduler uses for this boost's expiry, sent first by the booster.
    const squatted = await app.app.inject({
      method: 'POST',
      url: '/api/credits/spend',
      payload: { amount: 1, targetType: 'gig', targetId: 'g' },
      headers: { ...bearer('ana'), 'idempotency-key': `expire-${boosted.boostId}@${boosted.expiresAt}` },
    });
    expect(squatted.statusCode).toBe(201);
    await settle(app);
    app.clock.advance({ hours: 2 });
    const outcomes = (await app.projections?.expiry.expireDue()) ?? [];
    expect(outcomes).toEqual([expect.objectContaining({ boostId: boosted.boostId, appended: true })]);
    await settle(app);
    const visibility = await app.app.inject({ url: '/api/users/user123/visibility', headers: bearer('ana') });
    expect(visibility.json()).toMatchObject({ visibilityScore: '0', activeBoosts: [] });
  });
});

describe('read-model store failures', () => {
  it('a read-model store out of reach answers 503 READ_MODEL_STORE_UNAVAILABLE, not 500', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await post(app, '/api/credits/purchase', { amount: 5, paymentRef: 'p' }, 'ana');
    await settle(app);
    const models = app.projections?.readModels;
    if (models === undefined) throw new Error('projections expected');
    // Fault injection on the real store: its engine went away (MongoDB down, say).
    models.get = () => Promise.reject(new ReadModelStoreUnavailableError('MongoDB unavailable: connection refused'));
    const response = await app.app.inject({ url: '/api/users/ana/visibility', headers: bearer('ana') });
    expect(response.statusCode, response.body).toBe(503);
    expect(response.json()).toMatchObject({ statusCode: 503, code: 'READ_MODEL_STORE_UNAVAILABLE' });
  });
});
