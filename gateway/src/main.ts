import { AccountCommandHandler } from '../../ledger/src/commandHandling/accountCommandHandler.js';
import { openEventStore } from '../../ledger/src/eventStore/openEventStore.js';
import { systemClock } from '../../ledger/src/shared/clock.js';
import type { FastifyBaseLogger } from 'fastify';
import { openReadModelStore } from '../../projections/src/readModels/openReadModelStore.js';
import { sqliteReadModelStoreLimits } from '../../projections/src/readModels/sqliteReadModelStore.js';
import { openProjectionReads } from '../../projections/src/projectionReads.js';
import { startProjections } from '../../projections/src/system.js';
import { startWorkersProcess } from '../../projections/src/workersProcess.js';
import { buildApp } from './app.js';
import { createMetrics } from './metrics.js';
import { ConfigError, gatewayLimits, loadConfig, loadStorageConfig } from './config.js';

/**
 * `npm start`: the whole system on the configured engines (the embedded SQLite files under
 * LEDGER_DATA_DIR by default): the API here, and the workers (projectors, reactors, expiry) in a second
 * process it supervises (LEDGER_WORKERS=process; `inline` runs them on this event loop, `none` leaves
 * them to `npm run workers`, which is `npm run gateway`). SIGTERM/SIGINT: stop accepting, let requests
 * in flight finish, stop the workers, flush the event store's pending group commit, close.
 */
const main = async (): Promise<void> => {
  const config = loadConfig();
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
  const inline =
    config.workers === 'inline'
      ? startProjections({
          store,
          readModels,
          handler,
          clock: systemClock,
          logger,
          onExpired: (outcome) => {
            if (outcome.appended) metrics.expiryLateness.observe(outcome.latenessMs / 1000);
          },
        })
      : undefined;
  const child =
    config.workers === 'process'
      ? startWorkersProcess({ logger, onExpired: (latenessMs) => metrics.expiryLateness.observe(latenessMs / 1000) })
      : undefined;
  const projections =
    inline ??
    openProjectionReads({
      store,
      readModels,
      handler,
      clock: systemClock,
      ...(child === undefined ? {} : { reported: () => child.reported() }),
    });
  const app = await buildApp({
    config,
    store,
    handler,
    clock: systemClock,
    projections,
    metrics,
    ...(child === undefined ? {} : { readinessChecks: { workers: () => child.check() } }),
  });
  sink.log = app.log;

  /** Each step on its own: one that fails does not keep the others (the store's flush above all) from running. */
  const stopAll = async (steps: readonly (readonly [string, () => Promise<unknown>])[]): Promise<boolean> => {
    let clean = true;
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        clean = false;
        app.log.error({ err: error }, `error while shutting down: ${what}`);
      }
    }
    return clean;
  };
  const workers = [
    ['workers process', () => child?.stop() ?? Promise.resolve()],
    ['projections', () => inline?.stop() ?? readModels.close()],
    ['event store', () => store.close()],
  ] as const;

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
    app.log.info({ signal }, 'shutting down: no new requests, finishing those in flight');
    const forced = setTimeout(() => {
      app.log.error('shutdown (requests in flight, projectors, the expiry round) still running after the grace period; exiting');
      process.exit(1);
    }, gatewayLimits.shutdownGraceMs);
    forced.unref();
    // Keep-alive connections that finish their last request after close began would hold the server
    // open until their idle timeout; close each as soon as it goes idle.
    const sweep = setInterval(() => app.server.closeIdleConnections(), gatewayLimits.shutdownIdleSweepMs);
    const clean = await stopAll([['HTTP server', () => app.close()], ...workers]);
    clearInterval(sweep);
    if (clean) app.log.info('stopped cleanly');
    else process.exitCode = 1;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await stopAll(workers);
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new StartupError(`port ${config.port} on ${config.host} is in use: stop what holds it, or set PORT`)
      : error;
  }
  app.log.info(
    { engine: store.engine, dataDir: config.dataDir, address, docs: `${address}/docs` },
    `credit ledger listening on ${address}`,
  );
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
