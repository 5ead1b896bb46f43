import { afterEach, describe, expect, it } from 'vitest';
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
