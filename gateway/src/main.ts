import { AccountCommandHandler } from '../../ledger/src/commandHandling/accountCommandHandler.js';
import { openEventStore } from '../../ledger/src/eventStore/openEventStore.js';
import { systemClock } from '../../ledger/src/shared/clock.js';
import type { FastifyBaseLogger } from 'fastify';
import { openReadModelStore } from '../../projections/src/readModels/openReadModelStore.js';
import { sqliteReadModelStoreLimits } from '../../projections/src/readModels/sqliteReadModelStore.js';
import { startProjections } from '../../projections/src/system.js';
import { buildApp } from './app.js';
import { createMetrics } from './metrics.js';
import { ConfigError, gatewayLimits, loadConfig } from './config.js';

/**
 * `npm start`: one process running the whole system on the configured engines (the embedded
 * SQLite files under LEDGER_DATA_DIR by default). SIGTERM/SIGINT: stop accepting, let requests in
 * flight finish, flush the event store's pending group commit, close.
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
  const projections = startProjections({
    store,
    readModels,
    handler,
    clock: systemClock,
    logger,
    onExpired: (outcome) => {
      if (outcome.appended) metrics.expiryLateness.observe(outcome.latenessMs / 1000);
    },
  });
  const app = await buildApp({ config, store, handler, clock: systemClock, projections, metrics });
  sink.log = app.log;

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: no new requests, finishing those in flight');
    const forced = setTimeout(() => {
      app.log.error('shutdown (requests in flight, projectors, the expiry round) still running after the grace period; exiting');
      process.exit(1);
    }, gatewayLimits.shutdownGraceMs);
    forced.unref();
    // Keep-alive connections that finish their last request after close began would hold the server
    // open until their idle timeout; close each as soon as it goes idle.
    const sweep = setInterval(() => app.server.closeIdleConnections(), gatewayLimits.shutdownIdleSweepMs);
    try {
      await app.close();
      clearInterval(sweep);
      await projections.stop();
      await store.close();
      app.log.info('stopped cleanly');
    } catch (error) {
      app.log.error({ err: error }, 'error while shutting down');
      process.exitCode = 1;
    } finally {
      clearInterval(sweep);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  const address = await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { engine: store.engine, dataDir: config.dataDir, address, docs: `${address}/docs` },
    `credit ledger listening on ${address}`,
  );
};

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`credit ledger: ${error.message}`);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
