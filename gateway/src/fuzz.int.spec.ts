import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../../ledger/src/testing/index.js';
import { bearer, openTestApp, type TestApp } from './testing/testApp.js';

/**
 * Client input never produces a 5xx, and bad input never appends: every command route gets garbage,
 * wrong types, huge, negative and fractional amounts, unknown fields, odd unicode ids and oversized
 * bodies; every answer must be a 4xx in Fastify's error format and the log must not move.
 */

const routes: Record<string, Record<string, unknown>> = {
  '/api/credits/boost/profile': { targetUserId: 'user123', amount: 10, duration: 24 },
  '/api/credits/boost/gig': { targetGigId: 'gig789', amount: 10, duration: 24 },
  '/api/credits/boost/clan': { targetClanId: 'clan456', amount: 10, duration: 24 },
  '/api/credits/purchase': { userId: 'fuzzer', amount: 10, paymentRef: 'pay-1' },
  '/api/credits/spend': { amount: 10, targetType: 'gig', targetId: 'gig789', reason: 'r' },
  '/api/credits/earn': { userId: 'fuzzer', amount: 10, source: 'referral', refId: 'r1' },
  '/api/credits/gig-payment': { gigId: 'gig789', payeeId: 'payee', amount: 10 },
  '/api/credits/clan-contribution': { clanId: 'clan456', amount: 10 },
};

const badAmounts: unknown[] = [0, -1, -0.5, 1.5, 0.1, 1e308, 2 ** 53, 1_000_000_001, '10', null, true, [], {}, 'NaN', '1e3'];
const badDurations: unknown[] = [0, -24, 8760.001, 1e9, 1e-12, '24', null, false, [24], { h: 1 }];
const badIds: unknown[] = [
  '',
  'x'.repeat(129),
  'a\u0000b',
  'line\nbreak',
  '\u0007bell',
  '\ud800',
  'zero\u2028sep',
  42,
  null,
  true,
  ['id'],
  { id: 'x' },
];
const badText: unknown[] = ['x'.repeat(501), 'bad\u0000text', 7, ['r']];

const badValuesFor = (field: string): unknown[] => {
  if (field === 'amount') return badAmounts;
  if (field === 'duration') return badDurations;
  if (field === 'reason') return badText;
  if (field === 'targetType') return ['user', 'GIG', '', 0, null, 'profile ', ['gig']];
  return badIds;
};

let t: TestApp;
let head: number;
const headers = { ...bearer('fuzzer', ['admin']) };

beforeAll(async () => {
  t = await openTestApp();
  // Money on the account, so a fuzz case that slipped through validation would be able to charge.
  expect(
    (
      await t.app.inject({
        method: 'POST',
        url: '/api/credits/purchase',
        headers,
        payload: { userId: 'fuzzer', amount: 1_000_000, paymentRef: 'seed' },
      })
    ).statusCode,
  ).toBe(201);
  head = await t.store.headPosition();
});
afterAll(async () => {
  await t.close();
  removeTempDirs();
});

const expectClientError = async (response: { statusCode: number; json: () => unknown }, what: string): Promise<void> => {
  expect(response.statusCode, what).toBeGreaterThanOrEqual(400);
  expect(response.statusCode, what).toBeLessThan(500);
  expect(response.json(), what).toMatchObject({
    statusCode: response.statusCode,
    code: expect.any(String),
    error: expect.any(String),
    message: expect.any(String),
  });
  expect(await t.store.headPosition(), `${what} appended`).toBe(head);
};

describe('fuzzing every command route', () => {
  for (const [url, valid] of Object.entries(routes)) {
    describe(url, () => {
      it('rejects each field set to each bad value, and each field missing', async () => {
        for (const field of Object.keys(valid)) {
          for (const bad of badValuesFor(field)) {
            const response = await t.app.inject({ method: 'POST', url, headers, payload: { ...valid, [field]: bad } });
            await expectClientError(response, `${field}=${JSON.stringify(bad)}`);
          }
          const { [field]: _removed, ...missing } = valid;
          if (field !== 'reason')
            await expectClientError(await t.app.inject({ method: 'POST', url, headers, payload: missing }), `missing ${field}`);
        }
      });

      it('rejects unknown fields, non-object bodies, broken JSON, wrong content types and oversized bodies', async () => {
        const cases: { payload: string; contentType: string; what: string }[] = [
          { payload: JSON.stringify({ ...valid, isAdmin: true }), contentType: 'application/json', what: 'unknown field' },
          {
            // Written by hand: in an object literal `__proto__` sets the prototype, and JSON.stringify would drop it.
            payload: `{${JSON.stringify(valid).slice(1, -1)},"__proto__":{"isAdmin":true},"constructor":{"prototype":{}}}`,
            contentType: 'application/json',
            what: 'prototype keys',
          },
          { payload: '[]', contentType: 'application/json', what: 'array body' },
          { payload: '"text"', contentType: 'application/json', what: 'string body' },
          { payload: '123', contentType: 'application/json', what: 'number body' },
          { payload: 'null', contentType: 'application/json', what: 'null body' },
          { payload: '', contentType: 'application/json', what: 'empty body' },
          { payload: '{"amount": 10,', contentType: 'application/json', what: 'truncated JSON' },
          { payload: '{"amount": 10}}', contentType: 'application/json', what: 'trailing garbage' },
          { payload: '\u0000\u0001\u0002', contentType: 'application/json', what: 'binary' },
          { payload: 'amount=10', contentType: 'application/x-www-form-urlencoded', what: 'form body' },
          { payload: JSON.stringify(valid), contentType: 'text/plain', what: 'text/plain' },
          {
            payload: JSON.stringify({ ...valid, padding: 'x'.repeat(40_000) }),
            contentType: 'application/json',
            what: 'oversized',
          },
          { payload: `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`, contentType: 'application/json', what: 'deeply nested' },
        ];
        for (const c of cases) {
          const response = await t.app.inject({
            method: 'POST',
            url,
            headers: { ...headers, 'content-type': c.contentType },
            payload: c.payload,
          });
          await expectClientError(response, c.what);
          if (c.contentType !== 'application/json')
            expect(response.json(), c.what).toMatchObject({ statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' });
        }
      });

      it('survives random JSON bodies (property-based)', async () => {
        await fc.assert(
          fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue())), async (payload) => {
            const response = await t.app.inject({
              method: 'POST',
              url,
              headers: { ...headers, 'content-type': 'application/json' },
              payload: JSON.stringify(payload) ?? 'null',
            });
            await expectClientError(response, JSON.stringify(payload));
          }),
          { numRuns: 150 },
        );
      });
    });
  }

  it('answers garbage query strings on the query routes with 4xx', async () => {
    for (const query of [
      'limit=0',
      'limit=-1',
      'limit=101',
      'limit=abc',
      'limit=1.5',
      'cursor=%00',
      `cursor=${'x'.repeat(100)}`,
      'cursor=!!!',
      'userId=',
      'unknown=1',
    ]) {
      const response = await t.app.inject({ method: 'GET', url: `/api/credits/history?${query}`, headers });
      await expectClientError(response, query);
    }
    await expectClientError(
      await t.app.inject({ method: 'GET', url: '/api/credits/balance?userId=%00', headers }),
      'balance userId',
    );
  });
});
