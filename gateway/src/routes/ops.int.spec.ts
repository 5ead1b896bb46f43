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
let payments = 0;
/** A purchase with a payment reference of its own (a payment is credited once per account). */
const buy = (amount: number, user = 'booster456') =>
  post('/api/credits/purchase', { userId: user, amount, paymentRef: `pay-${amount}-${payments++}` }, paymentService());

describe('operations', () => {
  it('answers health, readiness and metrics', async () => {
    expect((await t.app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { eventStore: 'ok' } });
    await buy(5);
    const metrics = await t.app.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/api\/credits\/purchase"/);
    expect(metrics.body).toMatch(/ledger_events_appended_total 1/);
  });

  it('reports not ready when the event store is gone', async () => {
    await t.store.close();
    const ready = await t.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().status).toBe('unavailable');
  });

  it('serves an OpenAPI document generated from the schemas', async () => {
    const spec = (await t.app.inject({ url: '/docs/json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/credits/boost/profile',
        '/api/credits/boost/gig',
        '/api/credits/boost/clan',
        '/api/credits/purchase',
        '/api/credits/history',
      ]),
    );
    expect(spec.paths['/api/credits/boost/profile'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['targetUserId', 'amount', 'duration']),
    );
  });
});
