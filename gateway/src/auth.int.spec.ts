import { generateKeyPairSync } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, testSecret, type TestApp } from './testing/testApp.js';

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

describe('auth', () => {
  const boost = { targetUserId: 'user123', amount: 1, duration: 1 };
  const otherSigner = createSigner({
    key: 'another-secret-another-secret-another-secret',
    algorithm: 'HS256',
    expiresIn: 60_000,
  });
  const expired = createSigner({ key: testSecret, algorithm: 'HS256' })({
    sub: 'u1',
    roles: ['user'],
    exp: Math.floor(Date.parse('2020-01-01') / 1000),
  });
  const noExp = createSigner({ key: testSecret, algorithm: 'HS256' })({ sub: 'u1', roles: ['user'] });
  const badRole = createSigner({ key: testSecret, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'u1', roles: ['root'] });
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'u1', exp: 9999999999 })).toString('base64url')}.`;

  it.each([
    ['missing', {}],
    ['not a bearer', { authorization: 'Basic dTE6cA==' }],
    ['malformed', { authorization: 'Bearer not.a.jwt' }],
    ['forged (another secret)', { authorization: `Bearer ${otherSigner({ sub: 'u1', roles: ['admin'] })}` }],
    ['expired', { authorization: `Bearer ${expired}` }],
    ['without exp', { authorization: `Bearer ${noExp}` }],
    ['with an unknown role', { authorization: `Bearer ${badRole}` }],
    ['alg none', { authorization: `Bearer ${unsigned}` }],
  ])('answers 401 to a %s token and appends nothing', async (_name, headers) => {
    for (const url of ['/api/credits/boost/profile', '/api/credits/purchase']) {
      const response = await post(url, url.endsWith('purchase') ? { amount: 1, paymentRef: 'p' } : boost, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized' });
    }
    expect((await get('/api/credits/balance', headers as Record<string, string>)).statusCode).toBe(401);
    expect(await t.store.headPosition()).toBe(-1);
  });

  it('refuses a huge forged token with 401', async () => {
    const huge = `${otherSigner({ sub: 'u1', roles: ['user'], padding: 'x'.repeat(12_000) })}`;
    expect(huge.length).toBeGreaterThan(12_000);
    const response = await post('/api/credits/purchase', { amount: 1, paymentRef: 'p' }, { authorization: `Bearer ${huge}` });
    expect(response.statusCode).toBe(401);
  });
});

describe('auth: scheme and RS256', () => {
  it('accepts the Bearer scheme name in any case', async () => {
    const token = bearer('booster456').authorization.slice('Bearer '.length);
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      expect((await get('/api/credits/balance', { authorization: `${scheme} ${token}` })).statusCode).toBe(200);
    }
  });

  it('verifies RS256 tokens with the public key, and refuses an HS256 token signed with that key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const rs = await openTestApp({ config: { auth: { algorithm: 'RS256', publicKey } } });
    try {
      const good = createSigner({ key: privateKey, algorithm: 'RS256', expiresIn: 60_000 })({ sub: 'u1', roles: ['user'] });
      const confused = createSigner({ key: publicKey, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'u1', roles: ['admin'] });
      const balance = (token: string) =>
        rs.app.inject({ method: 'GET', url: '/api/credits/balance', headers: { authorization: `Bearer ${token}` } });
      expect((await balance(good)).statusCode).toBe(200);
      expect((await balance(confused)).statusCode).toBe(401);
    } finally {
      await rs.close();
    }
  });
});

describe('auth: audience and issuer', () => {
  it('with JWT_AUDIENCE and JWT_ISSUER set, accepts only tokens that carry both', async () => {
    const app = await openTestApp({ config: { jwtAudience: 'credit-ledger', jwtIssuer: 'https://id.example' } });
    try {
      const sign = createSigner({ key: testSecret, algorithm: 'HS256', expiresIn: 60_000 });
      const balance = (token: string) =>
        app.app.inject({ method: 'GET', url: '/api/credits/balance', headers: { authorization: `Bearer ${token}` } });
      const claims = { sub: 'u1', roles: ['user'] };
      expect((await balance(sign({ ...claims, aud: 'credit-ledger', iss: 'https://id.example' }))).statusCode).toBe(200);
      expect((await balance(sign({ ...claims, aud: ['other', 'credit-ledger'], iss: 'https://id.example' }))).statusCode).toBe(
        200,
      );
      for (const bad of [
        { ...claims },
        { ...claims, aud: 'credit-ledger' },
        { ...claims, iss: 'https://id.example' },
        { ...claims, aud: 'other-service', iss: 'https://id.example' },
        { ...claims, aud: 'credit-ledger', iss: 'https://evil.example' },
      ])
        expect((await balance(sign(bad))).statusCode, JSON.stringify(bad)).toBe(401);
    } finally {
      await app.close();
    }
  });
});
