import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../../ledger/src/testing/index.js';
import { bearer, openTestApp, paymentService, type TestApp } from '../testing/testApp.js';

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

describe('queries', () => {
  it('returns the balance and revision of the caller', async () => {
    expect((await get('/api/credits/balance')).json()).toEqual({ userId: 'booster456', balance: 0, revision: -1 });
    await buy(70);
    expect((await get('/api/credits/balance')).json()).toEqual({ userId: 'booster456', balance: 70, revision: 0 });
  });

  it('pages through the history newest first with an opaque cursor', async () => {
    for (let i = 1; i <= 5; i++) await buy(i);
    const first = await get('/api/credits/history?limit=2');
    expect(first.statusCode).toBe(200);
    const page1 = first.json();
    expect(page1.items.map((i: { revision: number }) => i.revision)).toEqual([4, 3]);
    expect(page1.items[0]).toMatchObject({
      type: 'CreditsPurchased',
      occurredAt: '2026-06-29T13:30:00.000Z',
      data: { amount: 5, balanceAfter: 15 },
    });
    const page2 = (await get(`/api/credits/history?limit=2&cursor=${page1.nextCursor}`)).json();
    expect(page2.items.map((i: { revision: number }) => i.revision)).toEqual([2, 1]);
    const page3 = (await get(`/api/credits/history?limit=2&cursor=${page2.nextCursor}`)).json();
    expect(page3.items.map((i: { revision: number }) => i.revision)).toEqual([0]);
    expect(page3.nextCursor).toBeNull();
    expect((await get('/api/credits/history?cursor=bm9wZQ')).json()).toMatchObject({ statusCode: 400, code: 'INVALID_CURSOR' });
  });
});
