import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AccountCommandHandler,
  accountStreamPrefix,
  ManualClock,
  SqliteEventStore,
  type EventStore,
} from '../../ledger/src/index.js';
import { removeTempDirs, tempDbFile } from '../../ledger/src/testing/index.js';
import { openProjectionReads, SqliteReadModelStore, startProjections, type ReportedStatus } from '../../projections/src/index.js';
import { buildApp } from './app.js';
import { bearer, openTestApp, testConfig } from './testing/testApp.js';

/**
 * Issue #11 item 7: a projection that stops on an event it cannot fold shows it, through the API.
 * The event is appended straight to the store (the command handler would never write it): a
 * CreditsPurchased whose amount is not a number fails its schema when a projection decodes it.
 */

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const admin = bearer('root', ['admin']);

/** Appends the unfoldable event to `account-{user}` after its last event; returns its id. */
const appendUnfoldable = async (store: EventStore, user: string, afterRevision: number): Promise<string> => {
  const id = randomUUID();
  await store.append(
    `${accountStreamPrefix}${user}`,
    [{ id, type: 'CreditsPurchased', data: { amount: 'a lot', balanceAfter: 'more' }, metadata: {} }],
    { expectedRevision: afterRevision },
  );
  return id;
};

/** Polls (bounded) until `done` holds for /ready's answer. */
const readyUntil = async (
  app: FastifyInstance,
  done: (answer: { statusCode: number; checks: Record<string, string> }) => boolean,
  beforeEachPoll: () => Promise<void> = () => Promise.resolve(),
): Promise<{ statusCode: number; checks: Record<string, string> }> => {
  const deadline = Date.now() + 20_000;
  for (;;) {
    await beforeEachPoll();
    const response = await app.inject({ method: 'GET', url: '/ready' });
    const answer = { statusCode: response.statusCode, checks: response.json<{ checks: Record<string, string> }>().checks };
    if (done(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`/ready never as expected: ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

/** What the API shows of it: /ready, a read-model route of each kind, /metrics. */
const expectShown = async (
  app: FastifyInstance,
  store: EventStore,
  eventId: string,
  beforeEachPoll?: () => Promise<void>,
): Promise<void> => {
  const [event] = (await store.readStream(`${accountStreamPrefix}ana`)).filter((e) => e.id === eventId);
  expect(event).toBeDefined();
  const { stream, revision, position } = event!;
  // Each projection finds the event on its own schedule: wait until both have stopped on it.
  const ready = await readyUntil(
    app,
    (a) =>
      a.checks.projections?.includes('account_balances stopped') === true &&
      a.checks.projections.includes('service_read_models stopped') === true,
    beforeEachPoll,
  );
  expect(ready.statusCode).toBe(503);
  const named = `account_balances stopped on event ${eventId} (CreditsPurchased, stream ${stream}, revision ${revision}, position ${position}): `;
  expect(ready.checks.projections).toContain(named);
  expect(ready.checks.projections).toContain('corrupt event'); // the fold's own error
  expect(ready.checks.projections).toContain('service_read_models stopped on event');

  // Not the balance the read model still holds (30 before the event): a coded 503 with the reason.
  const balance = await app.inject({ method: 'GET', url: '/api/accounts/ana/balance', headers: admin });
  expect(balance.statusCode).toBe(503);
  expect(balance.json()).toMatchObject({ code: 'PROJECTION_STOPPED', statusCode: 503 });
  expect(balance.json().message).toContain(named);
  const visibility = await app.inject({ method: 'GET', url: '/api/users/ana/visibility', headers: bearer('ana') });
  expect(visibility.statusCode).toBe(503);
  expect(visibility.json()).toMatchObject({ code: 'PROJECTION_STOPPED' });
  expect(visibility.json().message).toContain(`service_read_models stopped on event ${eventId}`);

  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  expect(metrics).toMatch(/^projection_stopped_on_event\{projection="account_balances"\} 1$/m);
  expect(metrics).toMatch(/^projection_stopped_on_event\{projection="service_read_models"\} 1$/m);
};

describe('a projection stopped on an event it cannot fold', () => {
  it('workers in this process: /ready names the projection and the event, its routes answer 503 PROJECTION_STOPPED, /metrics counts it', async () => {
    const t = await openTestApp({ withProjections: true });
    closers.push(() => t.close());
    for (const [i, amount] of [10, 20].entries()) {
      const bought = await t.app.inject({
        method: 'POST',
        url: '/api/credits/purchase',
        headers: bearer('payments', ['service']),
        payload: { userId: 'ana', amount, paymentRef: `pay-${i}` },
      });
      expect(bought.statusCode).toBe(201);
    }
    await readyUntil(t.app, (a) => a.statusCode === 200);
    await t.projections?.projectors.find((p) => p.name === 'account_balances')?.waitUntilCaughtUp();
    const before = await t.app.inject({ method: 'GET', url: '/api/accounts/ana/balance', headers: admin });
    expect(before.json()).toMatchObject({ balance: '30' });
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(
      /^projection_stopped_on_event\{projection="account_balances"\} 0$/m,
    );

    const eventId = await appendUnfoldable(t.store, 'ana', 1);
    await expectShown(t.app, t.store, eventId);
  });

  it('workers in another process (ProjectionReads, their statuses as reported over IPC): the same', async () => {
    const path = tempDbFile();
    const readModelsFile = join(dirname(path), 'readmodels.db');
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    // The workers' side: their own store handles and read-model store, as `npm run workers` opens them.
    const workersStore = new SqliteEventStore({ path });
    const workers = startProjections({
      store: workersStore,
      readModels: new SqliteReadModelStore(readModelsFile),
      handler: new AccountCommandHandler(workersStore),
      clock,
    });
    closers.push(async () => {
      await workers.stop();
      await workersStore.close();
    });
    // The API's side: reads only, with the statuses the workers last reported (serialised, as over IPC).
    const store = new SqliteEventStore({ path });
    const readModels = new SqliteReadModelStore(readModelsFile);
    let report: readonly ReportedStatus[] = [];
    const reportNow = async (): Promise<void> => {
      report = JSON.parse(
        JSON.stringify(
          (await workers.statuses()).map(({ name, state, retries, stallRestarts, lastError, handledEvents, failedOn }) => ({
            name,
            state,
            retries,
            stallRestarts,
            lastError,
            handledEvents,
            failedOn,
          })),
        ),
      ) as ReportedStatus[];
    };
    const handler = new AccountCommandHandler(store);
    const app = await buildApp({
      config: testConfig({ workers: 'process' }),
      store,
      handler,
      clock,
      logger: false,
      projections: openProjectionReads({ store, readModels, handler, clock, reported: () => report }),
    });
    closers.push(async () => {
      await app.close();
      await readModels.close();
      await store.close();
    });
    for (const [i, amount] of [10, 20].entries()) {
      const bought = await app.inject({
        method: 'POST',
        url: '/api/credits/purchase',
        headers: bearer('payments', ['service']),
        payload: { userId: 'ana', amount, paymentRef: `pay-${i}` },
      });
      expect(bought.statusCode).toBe(201);
    }
    await readyUntil(app, (a) => a.statusCode === 200, reportNow);

    const eventId = await appendUnfoldable(store, 'ana', 1);
    await expectShown(app, store, eventId, reportNow);
  });
});
