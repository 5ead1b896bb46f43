import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../../ledger/src/testing/index.js';
import { bearer, openTestApp, type TestApp } from '../testing/testApp.js';

let t: TestApp;
beforeEach(async () => {
  t = await openTestApp();
});
afterEach(async () => {
  await t.close();
  removeTempDirs();
});

const post = (url: string, payload: unknown, headers: Record<string, string> = bearer('booster456')) =>
  t.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown>, headers });
const get = (url: string, headers: Record<string, string> = bearer('booster456')) =>
  t.app.inject({ method: 'GET', url, headers });
/** The payment service: the only caller (with admins) that may record a purchase. */
const paymentService = bearer('payments', ['service']);
let payments = 0;
/** A purchase with a payment reference of its own (a payment is credited once per account). */
const buy = (amount: number, user = 'booster456') =>
  post('/api/credits/purchase', { userId: user, amount, paymentRef: `pay-${amount}-${payments++}` }, paymentService);

describe('commands', () => {
  it('boosts a profile with the seed body and answers 201 with the boost', async () => {
    await buy(500);
    const response = await post('/api/credits/boost/profile', { targetUserId: 'user123', amount: 100, duration: 24 });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      targetType: 'profile',
      targetId: 'user123',
      amount: 100,
      durationHours: 24,
      expiresAt: '2026-06-30T13:30:00.000Z',
      balance: 400,
    });
    expect(body.boostId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('boosts gigs and clans, with fractional durations', async () => {
    await buy(1000);
    const gig = await post('/api/credits/boost/gig', { targetGigId: 'gig789', amount: 200, duration: 1.5 });
    expect(gig.statusCode).toBe(201);
    expect(gig.json()).toMatchObject({
      targetType: 'gig',
      targetId: 'gig789',
      expiresAt: '2026-06-29T15:00:00.000Z',
      balance: 800,
    });
    const clan = await post('/api/credits/boost/clan', { targetClanId: 'clan456', amount: 300, duration: 72 });
    expect(clan.json()).toMatchObject({
      targetType: 'clan',
      targetId: 'clan456',
      expiresAt: '2026-07-02T13:30:00.000Z',
      balance: 500,
    });
  });

  it('purchases, spends, pays for gigs and contributes to clans, each answering the event id and new balance', async () => {
    const purchase = await buy(1000);
    expect(purchase.statusCode).toBe(201);
    expect(purchase.json()).toMatchObject({ type: 'CreditsPurchased', amount: 1000, balance: 1000, revision: 0 });
    const spend = await post('/api/credits/spend', { amount: 100, targetType: 'gig', targetId: 'gig789', reason: 'featured' });
    expect(spend.json()).toMatchObject({ type: 'CreditsSpent', balance: 900 });
    const pay = await post('/api/credits/gig-payment', { gigId: 'gig789', payeeId: 'seller1', amount: 250 });
    expect(pay.statusCode).toBe(201);
    expect(pay.json()).toMatchObject({ type: 'GigPaymentSent', balance: 650, payeeId: 'seller1', gigId: 'gig789' });
    const clan = await post('/api/credits/clan-contribution', { clanId: 'clan456', amount: 50 });
    expect(clan.json()).toMatchObject({ type: 'ClanContributionMade', balance: 600, revision: 3 });
  });

  it('lets services and admins grant credits, and nobody else', async () => {
    const granted = await post(
      '/api/credits/earn',
      { userId: 'u9', amount: 30, source: 'referral', refId: 'r1' },
      bearer('svc-rewards', ['service']),
    );
    expect(granted.statusCode).toBe(201);
    expect(granted.json()).toMatchObject({ type: 'CreditsEarned', balance: 30 });
    const denied = await post('/api/credits/earn', { userId: 'u9', amount: 30, source: 'referral', refId: 'r2' }, bearer('u9'));
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN', error: 'Forbidden' });
    expect((await get('/api/credits/balance', bearer('u9'))).json()).toMatchObject({ balance: 30, revision: 0 });
  });

  it('refuses a user acting on another account (403) and lets an admin do it', async () => {
    await buy(50, 'victim');
    const spend = { amount: 10, targetType: 'gig', targetId: 'g', userId: 'victim' };
    const denied = await post('/api/credits/spend', spend, bearer('mallory'));
    expect(denied.statusCode).toBe(403);
    const allowed = await post('/api/credits/spend', spend, bearer('ops', ['admin']));
    expect(allowed.statusCode).toBe(201);
    expect(await t.store.readStream('account-victim')).toHaveLength(2);
    expect((await t.store.readStream('account-victim'))[1]?.metadata).toMatchObject({ actor: 'admin:ops' });
  });

  it('records purchases from the payment service and admins only: a user cannot credit even their own account', async () => {
    for (const body of [
      { amount: 10, paymentRef: 'p' },
      { amount: 10, paymentRef: 'p', userId: 'mallory' },
      { amount: 10, paymentRef: 'p', userId: 'victim' },
    ]) {
      const denied = await post('/api/credits/purchase', body, bearer('mallory'));
      expect(denied.statusCode).toBe(403);
      expect(denied.json()).toMatchObject({ code: 'FORBIDDEN', message: 'recording a purchase needs the service or admin role' });
    }
    expect(await t.store.headPosition()).toBe(-1);
    // The account is named in the body; without it there is nothing to credit.
    const unnamed = await post('/api/credits/purchase', { amount: 10, paymentRef: 'p' }, paymentService);
    expect(unnamed.statusCode).toBe(400);
    expect(unnamed.json()).toMatchObject({ code: 'FST_ERR_VALIDATION', issues: [{ path: 'body.userId' }] });
    const recorded = await post('/api/credits/purchase', { userId: 'mallory', amount: 10, paymentRef: 'p' }, paymentService);
    expect(recorded.statusCode).toBe(201);
    const byAdmin = await post(
      '/api/credits/purchase',
      { userId: 'mallory', amount: 5, paymentRef: 'q' },
      bearer('ops', ['admin']),
    );
    expect(byAdmin.statusCode).toBe(201);
    const events = await t.store.readStream('account-mallory');
    expect(events.map((e) => e.metadata.actor)).toEqual(['service:payments', 'admin:ops']);
    expect((await get('/api/credits/balance', bearer('mallory'))).json()).toMatchObject({ balance: 15 });
  });

  it('answers INSUFFICIENT_CREDITS as 422 with the balance and the amount required, appending nothing', async () => {
    await buy(50);
    const response = await post('/api/credits/boost/profile', { targetUserId: 'user123', amount: 100, duration: 24 });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toEqual({
      statusCode: 422,
      code: 'INSUFFICIENT_CREDITS',
      error: 'Unprocessable Entity',
      message: 'balance 50 is less than the 100 credits required',
      details: { balance: 50, required: 100 },
    });
    expect(await t.store.readStream('account-booster456')).toHaveLength(1);
  });

  it('records the request id as the correlation id of the event', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/credits/purchase',
      payload: { userId: 'u1', amount: 5, paymentRef: 'p' },
      headers: { ...paymentService, 'x-request-id': 'req-abc-123' },
    });
    expect(response.headers['x-request-id']).toBe('req-abc-123');
    expect((await t.store.readStream('account-u1'))[0]?.metadata).toMatchObject({
      correlationId: 'req-abc-123',
      causationId: 'req-abc-123',
      actor: 'service:payments',
    });
  });
});

describe('idempotency keys', () => {
  const withKey = (key: string, user = 'booster456') => ({ ...bearer(user), 'idempotency-key': key });
  /** A delivery of the payment service, with a key. */
  const delivery = (key: string) => ({ ...paymentService, 'idempotency-key': key });
  /** What the payment service sends for a payment of booster456's. */
  const payment = (amount: number, paymentRef: string) => ({ userId: 'booster456', amount, paymentRef });

  it('returns the original status and body for a retry and charges once', async () => {
    await buy(500);
    const body = { targetUserId: 'user123', amount: 100, duration: 24 };
    const first = await post('/api/credits/boost/profile', body, withKey('boost-1'));
    const retry = await post('/api/credits/boost/profile', body, withKey('boost-1'));
    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(first.json());
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 400 });
  });

  it('still answers the original after a restart', async () => {
    const body = payment(25, 'stripe-1');
    const first = await post('/api/credits/purchase', body, delivery('buy-1'));
    const path = t.path;
    await t.close();
    t = await openTestApp({ path });
    const retry = await post('/api/credits/purchase', body, delivery('buy-1'));
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(first.json());
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 25, revision: 0 });
  });

  it('rejects the same key with a different body as 422 IDEMPOTENCY_KEY_REUSED', async () => {
    await post('/api/credits/purchase', payment(25, 'a'), delivery('k'));
    const reused = await post('/api/credits/purchase', payment(26, 'a'), delivery('k'));
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    // The payment service spends on the account too (a refund's reversal, say), keyed.
    const spend = { userId: 'booster456', amount: 1, targetType: 'gig', targetId: 'g' };
    expect((await post('/api/credits/spend', spend, delivery('k2'))).statusCode).toBe(201);
    const otherBody = await post('/api/credits/spend', { ...spend, amount: 2 }, delivery('k2'));
    expect(otherBody.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const otherRoute = await post('/api/credits/purchase', payment(5, 'b'), delivery('k2'));
    expect(otherRoute.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 24 });
  });

  it('credits a payment once whatever keys its deliveries carry (a key, none, another key)', async () => {
    const body = payment(7, 'pp');
    const first = await post('/api/credits/purchase', body, delivery('delivery-1'));
    expect(first.statusCode).toBe(201);
    for (const headers of [paymentService, delivery('delivery-2'), delivery('delivery-1')]) {
      const again = await post('/api/credits/purchase', body, headers);
      expect(again.statusCode).toBe(201);
      expect(again.json()).toEqual(first.json());
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    // The other order too: a delivery without a key first, then one with a key.
    const unkeyed = await post('/api/credits/purchase', payment(3, 'qq'), paymentService);
    const keyed = await post('/api/credits/purchase', payment(3, 'qq'), delivery('delivery-3'));
    expect(keyed.json()).toEqual(unkeyed.json());
    const changed = await post('/api/credits/purchase', payment(4, 'qq'), delivery('delivery-4'));
    expect(changed.statusCode).toBe(422);
    expect(changed.json()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: expect.stringMatching(/paymentRef "qq" was already recorded/),
    });
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 10, revision: 1 });

    // A retried keyed purchase is answered by its paymentRef even after its key was reused for a
    // spend (whose reuse of the key a purchase cannot see: documented).
    expect(
      (
        await post(
          '/api/credits/spend',
          { userId: 'booster456', amount: 1, targetType: 'gig', targetId: 'g' },
          delivery('delivery-1'),
        )
      ).statusCode,
    ).toBe(201);
    const retried = await post('/api/credits/purchase', body, delivery('delivery-1'));
    expect(retried.statusCode).toBe(201);
    expect(retried.json()).toEqual(first.json());
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 9 });
  });

  it('credits a payment once: a purchase sent again without a key is answered from the log', async () => {
    const body = payment(25, 'stripe_pi_9');
    const first = await post('/api/credits/purchase', body, paymentService);
    const webhookRetry = await post('/api/credits/purchase', body, paymentService);
    expect(webhookRetry.statusCode).toBe(201);
    expect(webhookRetry.json()).toEqual(first.json());
    expect(webhookRetry.headers['idempotent-replayed']).toBe('true');
    const changed = await post('/api/credits/purchase', payment(26, 'stripe_pi_9'), paymentService);
    expect(changed.statusCode).toBe(422);
    expect(changed.json()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: expect.stringMatching(/paymentRef "stripe_pi_9" was already recorded/),
    });
    expect((await post('/api/credits/purchase', payment(25, 'stripe_pi_10'), paymentService)).statusCode).toBe(201);
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 50, revision: 1 });
  });

  it('credits an earning once per (user, source, refId): a retry with no key, the same key or another pays once', async () => {
    const rewards = bearer('svc-rewards', ['service']);
    const earning = { userId: 'u9', amount: 30, source: 'referral', refId: 'r1' };
    const first = await post('/api/credits/earn', earning, rewards);
    expect(first.statusCode).toBe(201);
    for (const headers of [rewards, { ...rewards, 'idempotency-key': 'e-1' }, { ...rewards, 'idempotency-key': 'e-2' }]) {
      const again = await post('/api/credits/earn', earning, headers);
      expect(again.statusCode).toBe(201);
      expect(again.json()).toEqual(first.json());
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    // Another service sending the same earning is the same earning: it is the account's.
    expect((await post('/api/credits/earn', earning, bearer('ops', ['admin']))).json()).toEqual(first.json());
    const changed = await post('/api/credits/earn', { ...earning, amount: 31 }, rewards);
    expect(changed.statusCode).toBe(422);
    expect(changed.json()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      message: expect.stringMatching(/refId "r1" from source "referral" was already credited/),
    });
    expect((await get('/api/credits/balance', bearer('u9'))).json()).toMatchObject({ balance: 30, revision: 0 });
    // Another refId, another source with the same refId, another user: each pays.
    expect((await post('/api/credits/earn', { ...earning, refId: 'r2' }, rewards)).json()).toMatchObject({ balance: 60 });
    expect((await post('/api/credits/earn', { ...earning, source: 'contest' }, rewards)).json()).toMatchObject({ balance: 90 });
    // A source and refId cannot run together into another pair's key.
    expect((await post('/api/credits/earn', { ...earning, source: 'referral:r1', refId: 'x' }, rewards)).json()).toMatchObject({
      balance: 120,
    });
    expect((await post('/api/credits/earn', { ...earning, source: 'referral', refId: 'r1:x' }, rewards)).json()).toMatchObject({
      balance: 150,
    });
    expect((await post('/api/credits/earn', { ...earning, userId: 'u10' }, rewards)).json()).toMatchObject({ balance: 30 });
    expect(await t.store.readStream('account-u9')).toHaveLength(5);
  });

  it('a key names the request, not how it was written: naming oneself as userId is the same request', async () => {
    await buy(10);
    const asSelf = { amount: 1, targetType: 'gig', targetId: 'g' };
    const a = await post('/api/credits/spend', asSelf, withKey('spend-1'));
    const b = await post('/api/credits/spend', { ...asSelf, userId: 'booster456' }, withKey('spend-1'));
    // An empty reason is no reason: the same command.
    const c = await post('/api/credits/spend', { ...asSelf, reason: '' }, withKey('spend-1'));
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.json()).toEqual(a.json());
    expect(c.json()).toEqual(a.json());
    expect((await post('/api/credits/spend', { ...asSelf, reason: 'x' }, withKey('spend-1'))).json()).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 9 });
  });

  it('charges once when the same request races itself', async () => {
    await buy(100);
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        post('/api/credits/spend', { amount: 10, targetType: 'gig', targetId: 'g' }, withKey('race')),
      ),
    );
    expect(responses.every((r) => r.statusCode === 201)).toBe(true);
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect((await get('/api/credits/balance')).json()).toMatchObject({ balance: 90 });
  });

  it('refuses an unusable key with 400', async () => {
    for (const key of ['x'.repeat(129), 'has space', 'ünïcode']) {
      const response = await post(
        '/api/credits/purchase',
        { userId: 'u1', amount: 1, paymentRef: 'p' },
        { ...paymentService, 'idempotency-key': key },
      );
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'INVALID_IDEMPOTENCY_KEY' });
    }
    expect(await t.store.headPosition()).toBe(-1);
  });
});
