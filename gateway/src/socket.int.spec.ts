import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, paymentService, type TestApp } from './testing/testApp.js';

/** The same API through a real TCP socket: framing, keep-alive and headers as a client sees them. */
describe('over a real socket', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await openTestApp();
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t.close();
    removeTempDirs();
  });

  const call = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    fetch(`${base}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...bearer('socket-user'), ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });

  it('buys, boosts with an idempotency key, retries, and reads the balance', async () => {
    const payment = { userId: 'socket-user', amount: 300, paymentRef: 'p1' };
    expect((await call('/api/credits/purchase', { method: 'POST', body: payment, headers: paymentService() })).status).toBe(201);
    const boost = { targetUserId: 'user123', amount: 100, duration: 24 };
    const first = await call('/api/credits/boost/profile', {
      method: 'POST',
      body: boost,
      headers: { 'idempotency-key': 'sock-1' },
    });
    const retry = await call('/api/credits/boost/profile', {
      method: 'POST',
      body: boost,
      headers: { 'idempotency-key': 'sock-1' },
    });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(await retry.json()).toEqual(await first.json());
    const balance = await call('/api/credits/balance');
    expect(await balance.json()).toEqual({ userId: 'socket-user', balance: 200, revision: 1 });
  });

  it('answers 401 without a token and 413 for a huge body, over the wire', async () => {
    const unauthenticated = await fetch(`${base}/api/credits/balance`);
    expect(unauthenticated.status).toBe(401);
    const huge = await call('/api/credits/spend', {
      method: 'POST',
      body: { amount: 1, targetType: 'gig', targetId: 'g', reason: 'x'.repeat(100_000) },
    });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
  });
});
