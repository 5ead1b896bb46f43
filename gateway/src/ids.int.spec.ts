import { afterEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler } from '../../ledger/src/index.js';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, paymentService, settle, type TestApp } from './testing/testApp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  removeTempDirs();
});

const post = (app: TestApp, url: string, payload: Record<string, unknown>, headers = bearer('ana')) =>
  app.app.inject({ method: 'POST', url, payload, headers });
const fund = async (app: TestApp, user = 'ana'): Promise<void> => {
  const bought = await post(app, '/api/credits/purchase', { userId: user, amount: 1000, paymentRef: 'seed' }, paymentService());
  expect(bought.statusCode).toBe(201);
};

const nfd = 'Cafe\u0301'; // e + combining acute accent
const nfc = 'Caf\u00e9'; // é precomposed

describe('ids a command brings', () => {
  it.each([
    ['blank', '   '],
    ['a tab', '\t'],
    ['leading whitespace', ' clan456'],
    ['trailing whitespace', 'clan456 '],
    ['a zero-width space', 'clan\u200b456'],
    ['a zero-width joiner', 'clan\u200d456'],
    ['a byte-order mark', '\ufeffclan456'],
    ['a right-to-left override', 'clan\u202e654'],
    ['a left-to-right isolate', 'clan\u2066456\u2069'],
    ['a right-to-left mark', 'clan\u200f456'],
    ['a soft hyphen', 'clan\u00ad456'],
    ['a control character', 'clan\u0085456'],
  ])('refuses an id with %s (400 INVALID_ID) and appends nothing', async (_what, clanId) => {
    const app = (t = await openTestApp());
    await fund(app);
    const head = await app.store.headPosition();
    const refused = await post(app, '/api/credits/clan-contribution', { clanId, amount: 5 });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      statusCode: 400,
      code: 'INVALID_ID',
      error: 'Bad Request',
      issues: [{ path: 'body.clanId' }],
    });
    // The same for a payee, a boost target, a payment reference and the account a service names.
    const payee = await post(app, '/api/credits/gig-payment', { gigId: 'g1', payeeId: clanId, amount: 5 });
    expect(payee.json()).toMatchObject({ code: 'INVALID_ID', issues: [{ path: 'body.payeeId' }] });
    const target = await post(app, '/api/credits/boost/clan', { targetClanId: clanId, amount: 5, duration: 1 });
    expect(target.json()).toMatchObject({ code: 'INVALID_ID' });
    const payment = await post(app, '/api/credits/purchase', { userId: 'ana', amount: 5, paymentRef: clanId }, paymentService());
    expect(payment.json()).toMatchObject({ code: 'INVALID_ID', issues: [{ path: 'body.paymentRef' }] });
    const account = await post(app, '/api/credits/purchase', { userId: clanId, amount: 5, paymentRef: 'p' }, paymentService());
    expect(account.json()).toMatchObject({ code: 'INVALID_ID', issues: [{ path: 'body.userId' }] });
    expect(await app.store.headPosition()).toBe(head);
  });

  it('names a clan once however its id is composed: NFD and NFC are the same clan, stored as NFC', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await fund(app);
    expect((await post(app, '/api/credits/clan-contribution', { clanId: nfd, amount: 5 })).statusCode).toBe(201);
    expect((await post(app, '/api/credits/clan-contribution', { clanId: nfc, amount: 7 })).statusCode).toBe(201);
    const events = await app.store.readStream('account-ana');
    expect(events.slice(1).map((e) => e.data.clanId)).toEqual([nfc, nfc]);
    await settle(app);
    const reputation = await app.app.inject({ url: `/api/clans/${encodeURIComponent(nfc)}/reputation`, headers: bearer('ana') });
    expect(reputation.json()).toMatchObject({ clanId: nfc, contributionsTotal: '12' });
    // And a key names the request, not its spelling: the NFD retry of an NFC command is the same request.
    const keyed = { ...bearer('ana'), 'idempotency-key': 'k-1' };
    const first = await post(app, '/api/credits/clan-contribution', { clanId: nfc, amount: 1 }, keyed);
    const retry = await post(app, '/api/credits/clan-contribution', { clanId: nfd, amount: 1 }, keyed);
    expect(retry.json()).toEqual(first.json());
    expect(retry.headers['idempotent-replayed']).toBe('true');
  });

  it('keeps ids written before the rule readable, exactly as they were written', async () => {
    const app = (t = await openTestApp({ withProjections: true }));
    await fund(app);
    // Written straight through the ledger, as the gateway accepted them before: an NFD clan and one
    // with a zero-width space.
    const handler = new AccountCommandHandler(app.store);
    const context = { actor: 'user:ana', correlationId: 'legacy', causationId: 'legacy' };
    const zeroWidth = 'clan\u200b456';
    for (const clanId of [nfd, zeroWidth]) {
      const result = await handler.execute('ana', { type: 'ContributeToClan', clanId, amount: 3, now: app.clock.now() }, context);
      expect(result.ok).toBe(true);
    }
    await settle(app);
    const read = (clanId: string) =>
      app.app.inject({ url: `/api/clans/${encodeURIComponent(clanId)}/reputation`, headers: bearer('ana') });
    expect((await read(nfd)).json()).toMatchObject({ clanId: nfd, contributionsTotal: '3' });
    expect((await read(zeroWidth)).json()).toMatchObject({ clanId: zeroWidth, contributionsTotal: '3' });
    // Reads are exact: the NFC spelling is another clan, which new contributions (in any spelling) go to.
    expect((await read(nfc)).json()).toMatchObject({ clanId: nfc, contributionsTotal: '0' });
    expect((await post(app, '/api/credits/clan-contribution', { clanId: nfd, amount: 4 })).statusCode).toBe(201);
    await settle(app);
    expect((await read(nfc)).json()).toMatchObject({ contributionsTotal: '4' });
    expect((await read(nfd)).json()).toMatchObject({ contributionsTotal: '3' });
    // The account's history shows every one of them as written.
    const history = await app.app.inject({ url: '/api/credits/history?limit=10', headers: bearer('ana') });
    expect(history.statusCode).toBe(200);
    expect(history.json<{ items: { data: { clanId?: string } }[] }>().items.map((i) => i.data.clanId)).toEqual([
      nfc,
      zeroWidth,
      nfd,
      undefined,
    ]);
  });
});
