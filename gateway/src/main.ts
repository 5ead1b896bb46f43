import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import {
  AccountCommandHandler,
  closeAfterSnapshots,
  openEventStore,
  systemClock,
  type EventStore,
} from '../../ledger/src/index.js';
import {
  BrokerUnavailableError,
  loadAuditConfig,
  openProjectionReads,
  openReadModelStore,
  sqliteReadModelStoreLimits,
  startWorkers,
  startWorkersProcess,
  type ProjectionReads,
} from '../../projections/src/index.js';
import { buildApp } from './app.js';
import { createMetrics, trackRelay } from './metrics.js';
import { ConfigError, gatewayLimits, loadConfig, loadStorageConfig, type GatewayConfig } from './config.js';

/** One shutdown step: what it stops (for the log) and how. */
type StopStep = readonly [string, () => Promise<unknown>];

/**
 * `npm start`: the whole system on the configured engines (the embedded SQLite files under
 * LEDGER_DATA_DIR by default): the API here, and the workers (projectors, reactors, expiry) in a second
 * process it supervises (LEDGER_WORKERS=process; `inline` runs them on this event loop, `none` leaves
 * them to `npm run workers`, which is `npm run gateway`). SIGTERM/SIGINT: stop accepting, let requests
 * in flight finish, stop the workers, let the account snapshots under way finish, flush the event store's
 * pending group commit, close.
 */
const main = async (): Promise<void> => {
  const config = loadConfig();
  const { app, store, workers } = await startSystem(config);

  let signals = 0;
  const shutdown = async (signal: string): Promise<void> => {
    // The same signal often arrives twice (sent to the process group, npm passes it on too): only a
    // third one, sent on purpose, cuts the shutdown short.
    if (++signals > 1) {
      if (signals < 3) {
        app.log.warn({ signal }, 'already shutting down; send the signal again to exit at once');
        return;
      }
      app.log.error({ signal }, 'exiting at once, without finishing the shutdown');
      process.exit(1);
    }
    await stopGracefully(app, signal, workers);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await stopAll(app.log, workers);
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new StartupError(`port ${config.port} on ${config.host} is in use: stop what holds it, or set PORT`)
      : error;
  }
  app.log.info(
    { engine: store.engine, dataDir: config.dataDir, address, docs: `${address}/docs` },
    `credit ledger listening on ${address}`,
  );
};

/**
 * Opens the stores, starts the projectors and builds the app. `workers` are what must be stopped
 * after the HTTP server, in order (the projectors before the event store they read).
 */
const startSystem = async (
  config: GatewayConfig,
): Promise<{ app: FastifyInstance; store: EventStore; workers: readonly StopStep[] }> => {
  const audit = loadAuditConfig(config.dataDir, config.production);
  const store = await openEventStore({ eventStoreUrl: config.eventStoreUrl, dataDir: config.dataDir });
  const handler = new AccountCommandHandler(store);
  // The projectors log through the app's logger, which exists only once the app is built.
  const sink: { log?: FastifyBaseLogger } = {};
  const logger = {
    info: (object: object, message: string) => sink.log?.info(object, message),
    warn: (object: object, message: string) => sink.log?.warn(object, message),
    error: (object: object, message: string) => sink.log?.error(object, message),
  };
  const metrics = createMetrics();
  // The projectors must not sleep on the event loop while a rebuild in another process holds the
  // read-model file's write lock: they fail fast and retry with backoff instead.
  const readModels = await openReadModelStore({
    dataDir: config.dataDir,
    mongodbUrl: config.mongodbUrl,
    lockWaitMs: sqliteReadModelStoreLimits.serverLockWaitMs,
  });
  // Why the workers leave this event loop by default: ARCHITECTURE, "The workers run in a second process".
  // The relay and the audit digests are workers too: they run where the projectors run, once per system.
  const inline =
    config.workers === 'inline'
      ? await startWorkers({
          store,
          readModels,
          handler,
          clock: systemClock,
          logger,
          amqpUrl: config.amqpUrl,
          ...(audit.digestEveryMs === undefined || audit.signingKey === undefined
            ? {}
            : { digests: { signingKey: audit.signingKey, dir: audit.digestDir, everyMs: audit.digestEveryMs } }),
          onExpired: (outcome) => {
            if (outcome.appended) metrics.expiryLateness.observe(outcome.latenessMs / 1000);
          },
        })
      : undefined;
  const child =
    config.workers === 'process'
      ? startWorkersProcess({ logger, onExpired: (latenessMs) => metrics.expiryLateness.observe(latenessMs / 1000) })
      : undefined;
  const projections: ProjectionReads =
    inline ??
    openProjectionReads({
      store,
      readModels,
      handler,
      clock: systemClock,
      relay: config.amqpUrl !== undefined,
      ...(child === undefined ? {} : { reported: () => child.reported(), reportedRelay: () => child.relay() }),
    });
  const app = await buildApp({
    config,
    store,
    handler,
    clock: systemClock,
    projections,
    metrics,
    readinessChecks: {
      ...(child === undefined ? {} : { workers: () => child.check() }),
      // With LEDGER_WORKERS=none the relay runs in `npm run workers`, which no one here hears from.
      ...(config.amqpUrl === undefined || config.workers === 'none' ? {} : { broker: () => brokerReady(projections) }),
    },
  });
  if (config.amqpUrl !== undefined && config.workers !== 'none') trackRelay(metrics, { metrics: () => projections.relay() });
  sink.log = app.log;
  const workers: readonly StopStep[] = [
    ['workers process', () => child?.stop() ?? Promise.resolve()],
    ['projections', () => inline?.stop() ?? readModels.close()],
    // The account snapshots written behind the last commands first: a store that is closing refuses them.
    ['event store', () => closeAfterSnapshots(handler, store)],
  ];
  return { app, store, workers };
};

/** The broker check of /ready: the relay (here or in the workers process) can publish. */
const brokerReady = (projections: ProjectionReads): Promise<void> => {
  const relay = projections.relay();
  if (relay === undefined)
    return Promise.reject(new BrokerUnavailableError('the workers process has not reported the relay yet'));
  return relay.unavailableReason === undefined
    ? Promise.resolve()
    : Promise.reject(new BrokerUnavailableError(relay.unavailableReason));
};

/** Stops taking requests, lets those in flight finish, then stops the workers; bounded by the grace period. */
const stopGracefully = async (app: FastifyInstance, signal: string, workers: readonly StopStep[]): Promise<void> => {
  app.log.info({ signal }, 'shutting down: no new requests, finishing those in flight');
  const forced = setTimeout(() => {
    app.log.error('shutdown (requests in flight, projectors, the expiry round) still running after the grace period; exiting');
    process.exit(1);
  }, gatewayLimits.shutdownGraceMs);
  forced.unref();
  // Keep-alive connections that finish their last request after close began would hold the server
  // open until their idle timeout; close each as soon as it goes idle.
  const sweep = setInterval(() => app.server.closeIdleConnections(), gatewayLimits.shutdownIdleSweepMs);
  const clean = await stopAll(app.log, [['HTTP server', () => app.close()], ...workers]);
  clearInterval(sweep);
  if (clean) app.log.info('stopped cleanly');
  else process.exitCode = 1;
};

/** Each step on its own: one that fails does not keep the others (the store's flush above all) from running. */
const stopAll = async (log: FastifyBaseLogger, steps: readonly StopStep[]): Promise<boolean> => {
  let clean = true;
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      clean = false;
      log.error({ err: error }, `error while shutting down: ${what}`);
    }
  }
  return clean;
};

/** A start-up failure the operator can fix: one line naming what to change, exit code 1. */
class StartupError extends Error {}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`credit ledger: ${error.message}`);
    process.exit(2);
  }
  if (error instanceof StartupError) {
    console.error(`credit ledger: ${error.message}`);
    process.exit(1);
  }
  // The data directory's files (unwritable, or not a database): name them.
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')) {
    console.error(
      `credit ledger: cannot use the data directory ${loadStorageConfig().dataDir} (${(error as Error).message}); check LEDGER_DATA_DIR`,
    );
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
});
