import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, type TestApp } from './testing/testApp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  removeTempDirs();
});

/** A command of `user`'s; a purchase is the payment service's, for `user`. */
const post = (app: TestApp, url: string, payload: Record<string, unknown>, user: string) =>
  app.app.inject({ method: 'POST', url, payload, headers: bearer(user) });
/** Purchases are the payment service's: a service token names the account it credits. */
const buy = (app: TestApp, payload: Record<string, unknown>, user: string) =>
  app.app.inject({
    method: 'POST',
    url: '/api/credits/purchase',
    payload: { ...payload, userId: user },
    headers: bearer('payments', ['service']),
  });
const get = (app: TestApp, url: string, user = 'ops', roles: ('user' | 'admin' | 'service')[] = ['admin']) =>
  app.app.inject({ url, headers: bearer(user, roles) });

/** ana: +500 at 13:30, −120 at 14:30, +40 at 15:30 (the test clock), each a separate request. */
const seeded = async (): Promise<TestApp> => {
  const app = (t = await openTestApp());
  expect((await buy(app, { amount: 500, paymentRef: 'p1' }, 'ana')).statusCode).toBe(201);
  app.clock.advance({ hours: 1 });
  expect(
    (await post(app, '/api/credits/spend', { amount: 120, targetType: 'gig', targetId: 'g1', reason: 'x' }, 'ana')).statusCode,
  ).toBe(201);
  app.clock.advance({ hours: 1 });
  expect((await buy(app, { amount: 40, paymentRef: 'p2' }, 'ana')).statusCode).toBe(201);
  app.clock.advance({ minutes: 5 });
  return app;
};

describe('GET /api/audit/accounts/:accountId/balance', () => {
  it('folds the log up to the instant: 0 before the first event, each step after, the live balance now', async () => {
    const app = await seeded();
    const at = async (asOf: string) =>
      (await get(app, `/api/audit/accounts/ana/balance?asOf=${encodeURIComponent(asOf)}`)).json<{
        balance: number;
        eventsFolded: number;
      }>();
    expect(await at('2026-06-29T13:29:59.999Z')).toMatchObject({ balance: 0, eventsFolded: 0 });
    expect(await at('2026-06-29T13:30:00Z')).toMatchObject({ balance: 500, eventsFolded: 1, indexMismatches: 0 });
    // Another offset, the same instant.
    expect(await at('2026-06-29T16:30:00+02:00')).toMatchObject({ balance: 380, eventsFolded: 2 });
    const now = app.clock.now().toISO() ?? '';
    const live = (await get(app, '/api/credits/balance', 'ana', ['user'])).json<{ balance: number }>();
    expect(await at(now)).toMatchObject({ balance: live.balance, eventsFolded: 3 });
    expect(live.balance).toBe(420);
    // Its owner may ask too; nobody else but an admin.
    expect(
      (await get(app, `/api/audit/accounts/user:ana/balance?asOf=${encodeURIComponent(now)}`, 'ana', ['user'])).statusCode,
    ).toBe(200);
    const other = await get(app, `/api/audit/accounts/ana/balance?asOf=${encodeURIComponent(now)}`, 'ben', ['user', 'service']);
    expect(other.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
  });

  it('refuses an instant in the future (coded 400) and one it cannot read (400), for every account kind it does not serve', async () => {
    const app = await seeded();
    const future = await get(
      app,
      `/api/audit/accounts/ana/balance?asOf=${encodeURIComponent(app.clock.now().plus({ seconds: 1 }).toISO() ?? '')}`,
    );
    expect(future.statusCode).toBe(400);
    expect(future.json()).toMatchObject({ code: 'AS_OF_IN_FUTURE', error: 'Bad Request' });
    for (const asOf of ['yesterday', '2026-13-01T00:00:00Z', '2026-06-29T13:30:00', ''])
      expect((await get(app, `/api/audit/accounts/ana/balance?asOf=${encodeURIComponent(asOf)}`)).json()).toMatchObject({
        statusCode: 400,
        code: 'FST_ERR_VALIDATION',
      });
    expect((await get(app, '/api/audit/accounts/ana/balance')).json()).toMatchObject({ code: 'FST_ERR_VALIDATION' });
    expect((await get(app, '/api/audit/accounts/platform:sales/balance?asOf=2026-06-29T13:30:00Z')).json()).toMatchObject({
      code: 'FST_ERR_VALIDATION',
    });
  });
});

describe('GET /api/audit/accounts/:accountId/events', () => {
  it('pages every event with its place in the log and who caused it, filtered by type and time window', async () => {
    const app = await seeded();
    const first = (await get(app, '/api/audit/accounts/ana/events?limit=2')).json<{
      items: { revision: number; position: number; type: string; actor: string; correlationId: string; occurredAt: string }[];
      nextCursor: string | null;
    }>();
    expect(first.items.map((i) => [i.revision, i.type])).toEqual([
      [0, 'CreditsPurchased'],
      [1, 'CreditsSpent'],
    ]);
    expect(first.items[0]).toMatchObject({ actor: 'service:payments', occurredAt: '2026-06-29T13:30:00.000Z' });
    expect(first.items[0]?.correlationId).toEqual(expect.any(String));
    expect(first.items[1]!.position).toBeGreaterThan(first.items[0]!.position);
    const rest = (await get(app, `/api/audit/accounts/ana/events?limit=2&cursor=${first.nextCursor}`)).json<{
      items: { revision: number }[];
      nextCursor: string | null;
    }>();
    expect(rest.items.map((i) => i.revision)).toEqual([2]);
    expect(rest.nextCursor).toBeNull();

    const purchases = (await get(app, '/api/audit/accounts/ana/events?type=CreditsPurchased')).json<{
      items: { revision: number }[];
    }>();
    expect(purchases.items.map((i) => i.revision)).toEqual([0, 2]);
    const window = (
      await get(
        app,
        `/api/audit/accounts/ana/events?from=${encodeURIComponent('2026-06-29T14:00:00Z')}&to=${encodeURIComponent('2026-06-29T15:30:00Z')}`,
      )
    ).json<{ items: { revision: number }[] }>();
    expect(window.items.map((i) => i.revision)).toEqual([1]);
    expect((await get(app, '/api/audit/accounts/ana/events?type=Nope')).json()).toMatchObject({ code: 'FST_ERR_VALIDATION' });
    expect((await get(app, '/api/audit/accounts/ana/events?cursor=zzz')).json()).toMatchObject({ code: 'INVALID_CURSOR' });
    expect((await get(app, '/api/audit/accounts/ana/events', 'ben', ['user'])).statusCode).toBe(403);
  });

  it('appears in the OpenAPI document', async () => {
    const app = (t = await openTestApp());
    const spec = (await app.app.inject({ url: '/docs/json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/api/audit/accounts/{accountId}/events', '/api/audit/accounts/{accountId}/balance']),
    );
  });
});
