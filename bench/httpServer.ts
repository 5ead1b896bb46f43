import Fastify from 'fastify';
import { AccountCommandHandler, SqliteEventStore, systemClock } from '../ledger/src/index.js';
import { buildApp } from '../gateway/src/app.js';
import { loadConfig } from '../gateway/src/config.js';
import { join } from 'node:path';

/**
 * A server for the HTTP benchmark, in its own process so the load generator does not share its
 * event loop: `ledger` is the real app on an embedded store; `bare` is a bare Fastify route with the
 * same logger settings, the same-run baseline.
 */
const mode = process.argv[2];
// The bench asks for this process's CPU time around a run: CPU per request is steadier than
// throughput on a shared VM.
process.on('message', (message) => {
  if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() });
});
if (mode === 'bare') {
  const app = Fastify({ logger: { level: 'warn' } });
  app.post('/bare', async () => ({ ok: true }));
  // The boost route's path and answer size, with none of its work: the fairest bare baseline.
  app.post('/api/credits/boost/profile', async (_request, reply) => {
    reply.code(201);
    return {
      boostId: '019b0000-0000-7000-8000-000000000000',
      eventId: '019b0000-0000-7000-8000-000000000001',
      targetType: 'profile',
      targetId: 'target-1',
      amount: 1,
      durationHours: 24,
      expiresAt: '2026-11-25T02:30:00.000Z',
      balance: 999999,
    };
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.send?.({ address });
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
} else {
  const config = loadConfig();
  const store = new SqliteEventStore({
    path: join(config.dataDir, 'events.db'),
    writer: process.env.BENCH_WRITER === 'thread' ? 'thread' : 'inline',
    ...(process.env.BENCH_DURABILITY === 'normal' ? { durability: 'normal' as const } : {}),
  });
  const real = new AccountCommandHandler(store);
  // BENCH_NOOP: the same routes, auth and validation, with a handler that commits nothing (to see what the HTTP layer costs).
  const canned = {
    ok: true,
    events: [
      {
        id: 'e',
        revision: 0,
        position: 0,
        metadata: {},
        event: {
          type: 'BoostActivated',
          data: {
            boostId: 'b',
            targetType: 'profile',
            targetId: 't',
            amount: 1,
            durationHours: 24,
            activatedAt: '2026-01-01T00:00:00.000Z',
            expiresAt: '2026-01-02T00:00:00.000Z',
            counterparty: 'platform:boosts',
            balanceAfter: 1,
          },
        },
      },
    ],
    balance: 1,
    revision: 0,
    replayed: false,
  };
  const handler =
    process.env.BENCH_NOOP === '1'
      ? (Object.assign(Object.create(real), { execute: () => Promise.resolve(canned) }) as AccountCommandHandler)
      : real;
  const app = await buildApp({ config, store, handler, clock: systemClock });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  process.send?.({ address });
  process.once('SIGTERM', () => {
    void app
      .close()
      .then(() => store.close())
      .then(() => process.exit(0));
  });
}
