import { afterEach, describe, expect, it, vi } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { gatewayLimits } from './config.js';
import { bearer, openTestApp, paymentService, type TestApp } from './testing/testApp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  removeTempDirs();
});

const fromIp = (remoteAddress: string, headers: Record<string, string> = {}) => ({ remoteAddress, headers });

describe('failed and invalid requests are limited per IP', () => {
  it('answers 429 to an address after its 401s and 400s, before authentication, and forgives it after the minute', async () => {
    const app = (t = await openTestApp({ config: { rateLimitFailuresPerIpPerMinute: 3 } }));
    const forged = { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.forged' };
    const balance = (ip: string, headers: Record<string, string>) =>
      app.app.inject({ url: '/api/credits/balance', ...fromIp(ip, headers) });
    const statuses = [];
    statuses.push((await balance('10.0.0.1', forged)).statusCode);
    statuses.push((await balance('10.0.0.1', {})).statusCode);
    // An invalid body counts too.
    const invalid = await app.app.inject({
      method: 'POST',
      url: '/api/credits/spend',
      payload: { amount: -1 },
      ...fromIp('10.0.0.1', bearer('ana')),
    });
    statuses.push(invalid.statusCode);
    // The fourth is refused whatever it is, a valid token included, and appends nothing.
    const limited = await app.app.inject({
      method: 'POST',
      url: '/api/credits/purchase',
      payload: { userId: 'ana', amount: 5, paymentRef: 'p' },
      ...fromIp('10.0.0.1', paymentService()),
    });
    statuses.push(limited.statusCode);
    expect(statuses).toEqual([401, 401, 400, 429]);
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' });
    expect(limited.headers['retry-after']).toBe('60');
    expect(await app.store.headPosition()).toBe(-1);
    // Another address is not touched, and successes never count.
    for (let i = 0; i < 5; i++) expect((await balance('10.0.0.2', bearer('ana'))).statusCode).toBe(200);
    app.clock.advance({ seconds: 59 });
    expect((await balance('10.0.0.1', bearer('ana'))).statusCode).toBe(429);
    app.clock.advance({ seconds: 1 });
    expect((await balance('10.0.0.1', bearer('ana'))).statusCode).toBe(200);
  });
});

describe('the HTTP server', () => {
  it('bounds how long a request, an idle socket and a kept-alive connection may take', async () => {
    const app = (t = await openTestApp());
    expect(app.app.server.requestTimeout).toBe(gatewayLimits.requestTimeoutMs);
    expect(app.app.server.timeout).toBe(gatewayLimits.connectionTimeoutMs);
    expect(app.app.server.keepAliveTimeout).toBe(gatewayLimits.keepAliveTimeoutMs);
    expect(gatewayLimits.requestTimeoutMs).toBeGreaterThan(0);
    expect(gatewayLimits.connectionTimeoutMs).toBeGreaterThan(0);
  });
});

describe('/metrics', () => {
  const pending = async (app: TestApp): Promise<number> => {
    const text = (await app.app.inject({ url: '/metrics' })).body;
    const match = /^boost_expiry_pending (\d+)$/m.exec(text);
    expect(match, text).not.toBeNull();
    return Number(match?.[1]);
  };

  it('counts the pending expiries at most once per interval, however often it is scraped', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    const expiry = app.projections?.expiry;
    if (expiry === undefined) throw new Error('projections run');
    const counts = vi.spyOn(expiry, 'pendingCount');
    for (let i = 0; i < 5; i++) expect(await pending(app)).toBe(0);
    expect(counts).toHaveBeenCalledTimes(1);

    await app.app.inject({
      method: 'POST',
      url: '/api/credits/purchase',
      payload: { userId: 'ana', amount: 100, paymentRef: 'p' },
      headers: paymentService(),
    });
    const boost = { targetUserId: 'bob', amount: 10, duration: 24 };
    expect(
      (await app.app.inject({ method: 'POST', url: '/api/credits/boost/profile', payload: boost, headers: bearer('ana') }))
        .statusCode,
    ).toBe(201);
    for (const p of app.projections?.projectors ?? []) await p.waitUntilCaughtUp();
    // Within the interval the last count stands.
    expect(await pending(app)).toBe(0);
    expect(counts).toHaveBeenCalledTimes(1);
    // After it, a scrape starts one recount; the scrapes after it see the new count.
    app.clock.advance({ milliseconds: gatewayLimits.metricsCountMaxAgeMs });
    await pending(app);
    for (let i = 0; i < 100 && (await pending(app)) !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await pending(app)).toBe(1);
    expect(counts).toHaveBeenCalledTimes(2);
  });
});
