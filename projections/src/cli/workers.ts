import { AccountCommandHandler, closeAfterSnapshots, openEventStore, systemClock } from '../../../ledger/src/index.js';
import { loadAuditConfig } from '../audit/auditConfig.js';
import { ConfigError, loadWorkersConfig } from '../config.js';
import { openReadModelStore } from '../readModels/openReadModelStore.js';
import { sqliteReadModelStoreLimits } from '../readModels/sqliteReadModelStore.js';
import type { ProjectorLogger } from '../runtime/subscriber.js';
import { startWorkers } from '../system.js';
import { workersProcessLimits, type WorkersCommand, type WorkersMessage } from '../workersProcess.js';

/**
 * `npm run workers`: every projector, the settlement reactor and the expiry scheduler, the RabbitMQ
 * relay (AMQP_URL) and the audit digest schedule (AUDIT_DIGEST_EVERY), without HTTP, on the configured engines. `npm start` runs this as its second process (LEDGER_WORKERS=process) and
 * hears from it over IPC (statuses, expiries); run on its own it serves the API processes started
 * with `npm run gateway`. SIGTERM/SIGINT: finish the batches in hand, let the account snapshots under way finish, flush the event store, exit 0.
 */
const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** JSON lines in the shape the API's logger (pino) writes, so both processes' logs read alike. */
const jsonLogger = (level: (typeof levels)[number]): ProjectorLogger => {
  const threshold = levels.indexOf(level);
  const line =
    (name: 'info' | 'warn' | 'error', numeric: number) =>
    (object: object, message: string): void => {
      if (levels.indexOf(name) < threshold) return;
      const fields = JSON.stringify(object, (_key, value: unknown) =>
        value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value,
      );
      process.stdout.write(
        `{"level":${numeric},"time":${Date.now()},"pid":${process.pid},"name":"workers","msg":${JSON.stringify(message)},${fields.slice(1)}\n`.replace(
          ',}\n',
          '}\n',
        ),
      );
    };
  return { info: line('info', 30), warn: line('warn', 40), error: line('error', 50) };
};

const tell = (message: WorkersMessage): void => {
  if (process.connected) process.send?.(message);
};

const main = async (): Promise<void> => {
  const config = loadWorkersConfig();
  const audit = loadAuditConfig(config.dataDir, config.production);
  const log = jsonLogger(config.logLevel);
  const store = await openEventStore({ eventStoreUrl: config.eventStoreUrl, dataDir: config.dataDir });
  const handler = new AccountCommandHandler(store);
  const readModels = await openReadModelStore({
    dataDir: config.dataDir,
    mongodbUrl: config.mongodbUrl,
    lockWaitMs: sqliteReadModelStoreLimits.serverLockWaitMs,
  });
  const projections = await startWorkers({
    store,
    readModels,
    handler,
    clock: systemClock,
    logger: log,
    amqpUrl: config.amqpUrl,
    ...(audit.digestEveryMs === undefined || audit.signingKey === undefined
      ? {}
      : { digests: { signingKey: audit.signingKey, dir: audit.digestDir, everyMs: audit.digestEveryMs } }),
    onExpired: (outcome) => {
      if (outcome.appended) tell({ type: 'expired', latenessMs: outcome.latenessMs });
    },
  });
  const reporter = setInterval(() => {
    if (!process.connected) return;
    void projections.statuses().then(
      (statuses) =>
        tell({
          type: 'statuses',
          statuses: statuses.map(({ name, state, retries, stallRestarts, lastError, handledEvents, failedOn }) => ({
            name,
            state,
            retries,
            stallRestarts,
            lastError,
            handledEvents,
            failedOn,
          })),
          relay: projections.relay(),
        }),
      (error: unknown) => log.warn({ err: error }, 'could not read the projectors’ statuses'),
    );
  }, workersProcessLimits.statusReportIntervalMs);
  reporter.unref();

  // The projectors wait on unref'd timers (they never hold a server open): alone, without the IPC
  // channel of `npm start`, nothing else keeps this process running between batches.
  const keepAlive = setInterval(() => undefined, 2 ** 30);

  let signals = 0;
  let stopping = false;
  const onSignal = (signal: string): void => {
    // A signal sent to the process group arrives here and through the parent too: only a third one cuts short.
    if (++signals >= 3) {
      log.error({ signal }, 'exiting at once, without finishing the shutdown');
      process.exit(1);
    }
    void shutdown(signal);
  };
  const shutdown = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'workers: finishing the batches in hand, then stopping');
    clearInterval(reporter);
    clearInterval(keepAlive);
    let clean = true;
    for (const [what, step] of [
      ['projections', () => projections.stop()],
      // The settlement reactor's and the expiry's commands write account snapshots too: let those finish.
      ['event store', () => closeAfterSnapshots(handler, store)],
    ] as const) {
      try {
        await step();
      } catch (error) {
        clean = false;
        log.error({ err: error }, `error while shutting down: ${what}`);
      }
    }
    process.exit(clean ? 0 : 1);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // Started by `npm start`: the parent asks over IPC (not a signal, which would count towards the third),
  // and the parent going away (even killed) ends the workers too.
  process.on('message', (message: WorkersCommand) => {
    if (message.type === 'stop') void shutdown('asked by the parent process');
  });
  process.on('disconnect', () => void shutdown('the parent process went away'));
  tell({ type: 'started' });
  log.info(
    { engine: store.engine, dataDir: config.dataDir, relay: config.amqpUrl !== undefined, digestsEveryMs: audit.digestEveryMs },
    'workers running: projections, settlement, expiry, relay and audit digests when configured',
  );
};

main().catch((error: unknown) => {
  console.error(
    `credit ledger workers: ${error instanceof ConfigError ? error.message : String((error as Error).stack ?? error)}`,
  );
  process.exit(error instanceof ConfigError ? 2 : 1);
});
