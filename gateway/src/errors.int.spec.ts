import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, paymentService, type TestApp } from './testing/testApp.js';

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
let payments = 0;
/** A purchase with a payment reference of its own (a payment is credited once per account). */
const buy = (amount: number, user = 'booster456') =>
  post('/api/credits/purchase', { userId: user, amount, paymentRef: `pay-${amount}-${payments++}` }, paymentService());

describe('errors', () => {
  it('names the failing fields of invalid input (400, FST_ERR_VALIDATION)', async () => {
    const response = await post('/api/credits/boost/profile', { targetUserId: '', amount: 1.5, duration: 0, extra: true });
    expect(response.statusCode).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({ statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request' });
    expect(body.issues.map((issue: { path: string }) => issue.path)).toEqual(
      expect.arrayContaining(['body.targetUserId', 'body.amount', 'body.duration']),
    );
    expect(body.message).toMatch(/body\.targetUserId: .*; /);
    expect(await t.store.headPosition()).toBe(-1);
  });

  it('answers 413 to a body over the limit', async () => {
    const response = await post('/api/credits/spend', {
      amount: 1,
      targetType: 'gig',
      targetId: 'g',
      reason: 'x'.repeat(20_000),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  });

  it('answers 404 in the same format', async () => {
    const response = await get('/api/credits/nope');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found' });
  });

  it('rate-limits per user (429) when configured, without touching other users', async () => {
    await t.close();
    t = await openTestApp({ config: { rateLimitPerUserPerMinute: 3 } });
    expect((await buy(10, 'greedy')).statusCode).toBe(201);
    const spend = () => post('/api/credits/spend', { amount: 1, targetType: 'gig', targetId: 'g' }, bearer('greedy'));
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await spend()).statusCode);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const limited = await spend();
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' });
    expect((await get('/api/credits/balance', bearer('modest'))).statusCode).toBe(200);
    expect(await t.store.readStream('account-greedy')).toHaveLength(4);
  });
});
