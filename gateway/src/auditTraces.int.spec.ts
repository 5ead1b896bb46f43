import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, settle, type TestApp } from './testing/testApp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  removeTempDirs();
});

/** A command of `user`'s; a purchase is the payment service's, for `user`. */
const post = (app: TestApp, url: string, payload: Record<string, unknown>, user: string, requestId: string) =>
  app.app.inject({ method: 'POST', url, payload, headers: { ...bearer(user), 'x-request-id': requestId } });
/** Purchases are the payment service's: a service token names the account it credits. */
const buy = (app: TestApp, payload: Record<string, unknown>, user: string, requestId: string) =>
  app.app.inject({
    method: 'POST',
    url: '/api/credits/purchase',
    payload: { ...payload, userId: user },
    headers: { ...bearer('payments', ['service']), 'x-request-id': requestId },
  });
const admin = (app: TestApp, url: string) => app.app.inject({ url, headers: bearer('ops', ['admin']) });

interface Entry {
  type: string;
  stream: string;
  correlationId: string;
  position: number;
}

describe('audit traces (the index leads, the log answers)', () => {
  it('traces a boost from activation to its scheduled expiry, its target, and the request that caused it', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    expect((await buy(app, { amount: 500, paymentRef: 'p' }, 'ana', 'req-buy')).statusCode).toBe(201);
    const boost = await post(
      app,
      '/api/credits/boost/clan',
      { targetClanId: 'clan9', amount: 50, duration: 2 },
      'ana',
      'req-boost',
    );
    expect(boost.statusCode).toBe(201);
    const { boostId } = boost.json<{ boostId: string }>();
    await post(app, '/api/credits/boost/clan', { targetClanId: 'clan9', amount: 20, duration: 10 }, 'ana', 'req-boost-2');
    await settle(app);

    const active = (await admin(app, `/api/audit/boosts/${boostId}`)).json();
    expect(active).toMatchObject({
      boostId,
      payer: 'ana',
      targetType: 'clan',
      targetId: 'clan9',
      amount: 50,
      active: true,
      expiredAt: null,
    });

    app.clock.advance({ hours: 2, minutes: 3 });
    const outcomes = (await app.projections?.expiry.expireDue()) ?? [];
    expect(outcomes.filter((o) => o.appended)).toHaveLength(1);
    await settle(app);

    const expired = (await admin(app, `/api/audit/boosts/${boostId}`)).json<{
      latenessMs: number;
      dueAt: string;
      events: Entry[];
    }>();
    expect(expired).toMatchObject({
      active: false,
      dueAt: '2026-06-29T15:30:00.000Z',
      expiredAt: '2026-06-29T15:33:00.000Z',
      latenessMs: 180_000,
    });
    expect(expired.events.map((e) => e.type)).toEqual(['BoostActivated', 'BoostExpired']);

    const target = (await admin(app, '/api/audit/targets/clan/clan9/boosts')).json<{
      boosts: { amount: number; active: boolean }[];
      activeCount: number;
    }>();
    expect(target.boosts.map((b) => [b.amount, b.active])).toEqual([
      [50, false],
      [20, true],
    ]);
    expect(target.activeCount).toBe(1);
    const later = (
      await admin(app, `/api/audit/targets/clan/clan9/boosts?from=${encodeURIComponent('2026-06-29T14:00:00Z')}`)
    ).json<{ boosts: unknown[] }>();
    expect(later.boosts).toHaveLength(0);

    // The request's trace reaches the expiry that followed under another correlation.
    const trace = (await admin(app, '/api/audit/correlations/req-boost')).json<{ events: Entry[] }>();
    expect(trace.events.map((e) => [e.type, e.correlationId])).toEqual([
      ['BoostActivated', 'req-boost'],
      ['BoostExpired', `expire-${boostId}`],
    ]);
    expect((await admin(app, '/api/audit/correlations/req-none')).json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect((await admin(app, '/api/audit/boosts/nope')).statusCode).toBe(404);
    const forbidden = await app.app.inject({ url: `/api/audit/boosts/${boostId}`, headers: bearer('ana') });
    expect(forbidden.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
  });

  it('traces a gig payment: both legs, settlement and time in transit; the settlement shares the request', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await buy(app, { amount: 500, paymentRef: 'p' }, 'ana', 'req-buy');
    const paid = await post(app, '/api/credits/gig-payment', { gigId: 'g1', payeeId: 'ben', amount: 120 }, 'ana', 'req-pay');
    expect(paid.statusCode).toBe(201);
    const { transferId } = paid.json<{ transferId: string }>();
    await settle(app);
    const transfer = (await admin(app, `/api/audit/transfers/${transferId}`)).json<{ events: Entry[] }>();
    expect(transfer).toMatchObject({
      transferId,
      payer: 'ana',
      payee: 'ben',
      gigId: 'g1',
      amount: 120,
      settled: true,
      inTransitMs: 0,
    });
    expect(transfer.events.map((e) => [e.type, e.stream])).toEqual([
      ['GigPaymentSent', 'account-ana'],
      ['GigPaymentReceived', 'account-ben'],
    ]);
    const trace = (await admin(app, '/api/audit/correlations/req-pay')).json<{ events: Entry[] }>();
    expect(trace.events.map((e) => e.type)).toEqual(['GigPaymentSent', 'GigPaymentReceived']);
  });

  it('answers from the log, not the index: an index entry the log does not bear out is left out and counted', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await buy(app, { amount: 500, paymentRef: 'p' }, 'ana', 'req-buy');
    await post(app, '/api/credits/spend', { amount: 5, targetType: 'gig', targetId: 'g', reason: '' }, 'ana', 'req-spend');
    await settle(app);
    // A planted entry: req-spend also "caused" the purchase at revision 0 (the log says otherwise).
    const purchase = (await admin(app, '/api/audit/accounts/ana/events?type=CreditsPurchased')).json<{ items: Entry[] }>()
      .items[0]!;
    const db = new Database(app.path.replace(/events\.db$/, 'readmodels.db'));
    const [table] = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%audit_index%'").all() as {
      name: string;
    }[];
    const doc = { kind: 'correlation', key: 'req-spend', stream: 'account-ana', revision: 0, position: purchase.position };
    db.prepare(`INSERT INTO "${table!.name}" (id, position, doc) VALUES (?, NULL, ?)`).run('planted', JSON.stringify(doc));
    db.close();
    const trace = (await admin(app, '/api/audit/correlations/req-spend')).json<{ events: Entry[]; indexMismatches: number }>();
    expect(trace.events.map((e) => e.type)).toEqual(['CreditsSpent']);
    expect(trace.indexMismatches).toBe(1);
  });

  it('lists the legs naming a platform or clan account as counterparty, paged, checked against the log (admin)', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await buy(app, { amount: 500, paymentRef: 'p1' }, 'ana', 'req-1');
    await post(app, '/api/credits/clan-contribution', { clanId: 'k9', amount: 30 }, 'ana', 'req-2');
    await buy(app, { amount: 100, paymentRef: 'p2' }, 'bo', 'req-3');
    await buy(app, { amount: 7, paymentRef: 'p3' }, 'ana', 'req-4');
    await settle(app);
    type Page = { accountId: string; userId: null; items: Entry[]; nextCursor: string | null; indexMismatches: number };
    const sales = (await admin(app, '/api/audit/accounts/platform:sales/events')).json<Page>();
    expect(sales).toMatchObject({ accountId: 'platform:sales', userId: null, nextCursor: null, indexMismatches: 0 });
    expect(sales.items.map((e) => [e.type, e.stream, e.correlationId])).toEqual([
      ['CreditsPurchased', 'account-ana', 'req-1'],
      ['CreditsPurchased', 'account-bo', 'req-3'],
      ['CreditsPurchased', 'account-ana', 'req-4'],
    ]);
    const clan = (await admin(app, '/api/audit/accounts/clan:k9/events')).json<Page>();
    expect(clan.items.map((e) => [e.type, e.stream])).toEqual([['ClanContributionMade', 'account-ana']]);
    // Paged: one leg a page, the cursor continuing after it.
    const first = (await admin(app, '/api/audit/accounts/platform:sales/events?limit=2')).json<Page>();
    expect(first.items.map((e) => e.correlationId)).toEqual(['req-1', 'req-3']);
    const rest = (
      await admin(app, `/api/audit/accounts/platform:sales/events?limit=2&cursor=${first.nextCursor ?? 'none'}`)
    ).json<Page>();
    expect(rest.items.map((e) => e.correlationId)).toEqual(['req-4']);
    // A planted reference (the clan "took" ana's purchase) is not in the answer, and is counted.
    const db = new Database(app.path.replace(/events\.db$/, 'readmodels.db'));
    const [table] = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%audit_index%'").all() as {
      name: string;
    }[];
    const doc = { kind: 'counterparty', key: 'clan:k9', stream: 'account-ana', revision: 0, position: sales.items[0]!.position };
    db.prepare(`INSERT INTO "${table!.name}" (id, position, doc) VALUES (?, NULL, ?)`).run('planted', JSON.stringify(doc));
    db.close();
    const checked = (await admin(app, '/api/audit/accounts/clan:k9/events')).json<Page>();
    expect(checked.items.map((e) => e.type)).toEqual(['ClanContributionMade']);
    expect(checked.indexMismatches).toBe(1);
    // Admin only; an unknown platform account or a bad cursor is a 400.
    const asUser = await app.app.inject({ url: '/api/audit/accounts/platform:sales/events', headers: bearer('ana') });
    expect(asUser.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN' });
    expect((await admin(app, '/api/audit/accounts/platform:nope/events')).json()).toMatchObject({ code: 'FST_ERR_VALIDATION' });
    expect((await admin(app, '/api/audit/accounts/clan:k9/events?cursor=bad')).json()).toMatchObject({ statusCode: 400 });
  });
});
