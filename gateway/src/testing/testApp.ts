import { createSigner } from 'fast-jwt';
import type { FastifyInstance } from 'fastify';
import { AccountCommandHandler, ManualClock, msPerHour, SqliteEventStore } from '../../../ledger/src/index.js';
import { tempDbFile } from '../../../ledger/src/testing/index.js';
import { buildApp } from '../app.js';
import type { GatewayConfig } from '../config.js';
import type { Role } from '../auth.js';
import { dirname, join } from 'node:path';
import { SqliteReadModelStore, startProjections, type Projections } from '../../../projections/src/index.js';

export const testSecret = 'test-secret-that-is-long-enough-for-hs256!!';

export const testConfig = (overrides: Partial<GatewayConfig> = {}): GatewayConfig => ({
  production: false,
  port: 0,
  host: '127.0.0.1',
  dataDir: '/nonexistent',
  auth: { algorithm: 'HS256', secret: testSecret },
  rateLimitPerUserPerMinute: 0,
  rateLimitFailuresPerIpPerMinute: 0,
  eventStoreUrl: undefined,
  mongodbUrl: undefined,
  amqpUrl: undefined,
  logLevel: 'silent',
  workers: 'inline',
  ...overrides,
});

const signer = createSigner({ key: testSecret, algorithm: 'HS256', expiresIn: msPerHour });
export const tokenFor = (sub: string, roles: Role[] = ['user']): string => signer({ sub, roles });
export const bearer = (sub: string, roles: Role[] = ['user']): { authorization: string } => ({
  authorization: `Bearer ${tokenFor(sub, roles)}`,
});

/** The payment service's token: only it (and admins) may record a purchase, naming the account in the body. */
export const paymentService = (): { authorization: string } => bearer('payments', ['service']);

export interface TestApp {
  readonly app: FastifyInstance;
  readonly store: SqliteEventStore;
  readonly clock: ManualClock;
  readonly path: string;
  readonly projections?: Projections;
  close(): Promise<void>;
}

/** The store as projectors see it, with a subscription that delivers nothing until it is stopped. */
const stalled = (store: SqliteEventStore): SqliteEventStore =>
  Object.assign(Object.create(store) as SqliteEventStore, {
    headPosition: () => store.headPosition(),
    subscribeToAll: async function* (options?: { signal?: AbortSignal }) {
      await new Promise<void>((resolve) => {
        if (options?.signal?.aborted === true) resolve();
        options?.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      yield* [];
    },
  });

/** Waits until every projector is level with the same head (reactors append too: settlements). */
export const settle = async (app: TestApp): Promise<void> => {
  for (;;) {
    for (const p of app.projections?.projectors ?? []) await p.waitUntilCaughtUp();
    const statuses = (await app.projections?.statuses()) ?? [];
    if (statuses.every((s) => s.lagEvents === 0)) return;
  }
};

/**
 * A data directory whose read models already hold what `seed` wrote into them (what a long history left
 * there), closed again; resolves with the path of its log, for `openTestApp({ path })`.
 */
export const dataDirWithReadModels = async (seed: (models: SqliteReadModelStore) => Promise<void>): Promise<string> => {
  const path = tempDbFile();
  const models = new SqliteReadModelStore(join(dirname(path), 'readmodels.db'));
  await seed(models);
  await models.close();
  return path;
};

/** The real app around a real embedded store in a temporary file, with a manual clock. */
export const openTestApp = async (
  options: {
    path?: string;
    config?: Partial<GatewayConfig>;
    withProjections?: boolean;
    /** Projectors whose subscription never delivers (read models that never catch up). */
    stalledProjections?: boolean;
  } = {},
): Promise<TestApp> => {
  const path = options.path ?? tempDbFile();
  const store = new SqliteEventStore({ path });
  const clock = new ManualClock('2026-06-29T13:30:00.000Z');
  const handler = new AccountCommandHandler(store);
  const projections =
    options.withProjections === true
      ? startProjections({
          store: options.stalledProjections === true ? stalled(store) : store,
          readModels: new SqliteReadModelStore(join(dirname(path), 'readmodels.db')),
          handler,
          clock,
        })
      : undefined;
  const app = await buildApp({
    config: testConfig(options.config),
    store,
    handler,
    clock,
    logger: false,
    ...(projections === undefined ? {} : { projections }),
  });
  await app.ready();
  return {
    app,
    store,
    clock,
    path,
    ...(projections === undefined ? {} : { projections }),
    close: async () => {
      await app.close();
      await projections?.stop();
      await store.close();
    },
  };
};
