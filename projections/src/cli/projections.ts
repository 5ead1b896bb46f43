import { auditIndexName } from '../audit/auditIndex.js';
import { relayCheckpointOf } from '../fanout/relayCheckpoint.js';
import { Command, InvalidArgumentError } from 'commander';
import { msPerHour, openEventStore } from '../../../ledger/src/index.js';
import { loadStorageConfig } from '../config.js';
import { SingleBar } from 'cli-progress';
import { openReadModelStore } from '../readModels/openReadModelStore.js';
import type { ReadModelStore } from '../readModels/readModelStore.js';
import { versionedCheckpointName } from '../readModels/versionedProjection.js';
import {
  isReadModelName,
  rebuildableReadModels,
  RebuildInProgressError,
  rebuildLimits,
  rebuildTogether,
  type ReadModelName,
  type RebuildProgress,
} from '../rebuild/rebuild.js';
import { describeFailedEvent, lagBehind, type FailedEvent } from '../runtime/subscriber.js';
import { readStoppedOn } from '../runtime/stoppedOnRecord.js';

/** Checkpoint names of every projection: read models carry their active version. */
const checkpointNames = async (
  models: ReadModelStore,
): Promise<{ name: string; version: number | undefined; checkpoint: string }[]> => [
  ...(await Promise.all(
    Object.keys(rebuildableReadModels).map(async (name) => {
      const version = await models.activeVersion(name);
      return { name, version, checkpoint: versionedCheckpointName(name, version ?? 1) };
    }),
  )),
  { name: 'gig_payment_settlement', version: undefined, checkpoint: 'gig_payment_settlement' },
  { name: 'boost_expiry', version: undefined, checkpoint: 'boost_expiry' },
  { name: auditIndexName, version: undefined, checkpoint: auditIndexName },
];

/** A lag for people: ms, s, min or h. */
const formatDuration = (ms: number): string =>
  ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)} s`
      : ms < msPerHour
        ? `${(ms / 60_000).toFixed(1)} min`
        : `${(ms / msPerHour).toFixed(1)} h`;

const program = new Command().name('npm run projections --').description('Inspect the projections');

program
  .command('status')
  .description(
    'each projection with its version, checkpoint and lag (events, and how long the oldest unhandled event has waited)',
  )
  .option('--json', 'machine-readable output')
  .action(showStatus);

program
  .command('rebuild')
  .description('replay the whole log into a new version of a read model, then switch readers to it (blue/green)')
  .argument('[name]', `one of: ${Object.keys(rebuildableReadModels).join(', ')}`)
  .option('--all', 'rebuild every read model')
  .option('--json', 'print machine-readable progress, one JSON object per line')
  .option('--force', 'take over from a rebuild of the same read model that crashed or was killed')
  .option(
    '--grace <seconds>',
    'how long the old version is kept after readers switch, for requests already reading it',
    (value: string) => {
      if (!/^\d{1,4}(\.\d{1,3})?$/.test(value)) throw new InvalidArgumentError('a number of seconds, e.g. 2 or 0.5');
      return Number(value);
    },
    rebuildLimits.dropOldVersionsAfterMs / 1000,
  )
  .action(runRebuild);

program
  .command('relay-reset')
  .description(
    "move the RabbitMQ relay's checkpoint back (default: before the first event), so it re-publishes the log from there " +
      'with the same messageIds; run it while the relay is stopped, or its next confirmed batch overwrites the reset',
  )
  .option(
    '--to <position>',
    'the last position counted as published: -1 (the default) re-publishes everything',
    (value: string) => {
      if (!/^(-1|0|[1-9]\d{0,15})$/.test(value)) throw new InvalidArgumentError('a log position: -1 or a whole number');
      return Number(value);
    },
    -1,
  )
  .option('--json', 'machine-readable output')
  .action(resetRelay);

/** `relay-reset`: sets the relay's checkpoint (a side record of the event store) to a position at or below the head. */
async function resetRelay(options: { to: number; json?: boolean }): Promise<void> {
  const config = loadStorageConfig();
  const store = await openEventStore({ eventStoreUrl: config.eventStoreUrl, dataDir: config.dataDir });
  try {
    const head = await store.headPosition();
    if (options.to > head) {
      process.stderr.write(`--to ${options.to} is past the log head (${head}): the relay would skip events appended later\n`);
      process.exitCode = 1;
      return;
    }
    const checkpoint = relayCheckpointOf(store);
    const before = (await checkpoint.load()) ?? null;
    await checkpoint.save(options.to);
    const republish = lagBehind(head, options.to);
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify({ name: 'rabbitmq_relay', before, checkpoint: options.to, head, republish })}\n`);
      return;
    }
    console.log(
      `rabbitmq_relay checkpoint ${before ?? 'none'} -> ${options.to} (head ${head}): ${republish} events are published again ` +
        'when the relay runs, with their original messageIds; consumers using the kit drop the ones they already handled',
    );
  } finally {
    await store.close();
  }
}

/** `status`: each projection with its version, checkpoint and lag. */
async function showStatus(options: { json?: boolean }): Promise<void> {
  const config = loadStorageConfig();
  const store = await openEventStore({ eventStoreUrl: config.eventStoreUrl, dataDir: config.dataDir });
  const models = await openReadModelStore({ dataDir: config.dataDir, mongodbUrl: config.mongodbUrl });
  try {
    const head = await store.headPosition();
    const nowMs = Date.now();
    // Stopped on an event (as the process running it recorded), level with the log, or behind it.
    const stateOf = async (
      name: string,
      checkpoint: number,
      lagEvents: number,
    ): Promise<{ state: 'failed' | 'caught-up' | 'behind'; failedOn: FailedEvent | null }> => {
      const failedOn = await readStoppedOn(store, name, checkpoint);
      if (failedOn !== undefined) return { state: 'failed', failedOn };
      return { state: lagEvents === 0 ? 'caught-up' : 'behind', failedOn: null };
    };
    const rows = await Promise.all(
      (await checkpointNames(models)).map(async ({ name, version, checkpoint: checkpointName }) => {
        const checkpoint = await models.checkpoint(checkpointName);
        // Lag in time: how long the oldest event the projection has not handled has been waiting.
        const [oldestUnhandled] = await store.readAll({ after: checkpoint, maxCount: 1 });
        const lagMs = oldestUnhandled === undefined ? 0 : Math.max(0, nowMs - Date.parse(oldestUnhandled.recordedAt));
        const lagEvents = lagBehind(head, checkpoint);
        return {
          name,
          version: version ?? null,
          checkpoint,
          head,
          lagEvents,
          lagMs,
          ...(await stateOf(name, checkpoint, lagEvents)),
        };
      }),
    );
    // The RabbitMQ relay keeps its checkpoint with the log, not in the read-model store.
    const relayCheckpoint = await relayCheckpointOf(store).load();
    if (relayCheckpoint !== undefined) {
      const [oldestUnpublished] = await store.readAll({ after: relayCheckpoint, maxCount: 1 });
      const lagMs = oldestUnpublished === undefined ? 0 : Math.max(0, nowMs - Date.parse(oldestUnpublished.recordedAt));
      rows.push({
        name: 'rabbitmq_relay',
        version: null,
        checkpoint: relayCheckpoint,
        head,
        lagEvents: lagBehind(head, relayCheckpoint),
        lagMs,
        ...(await stateOf('rabbitmq_relay', relayCheckpoint, lagBehind(head, relayCheckpoint))),
      });
    }
    if (options.json === true) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    console.log(`log head: ${head} (events: ${store.engine}, read models: ${models.engine})`);
    for (const row of rows) {
      const version = row.version === null ? '' : `v${row.version}`;
      console.log(
        `${row.name.padEnd(24)} ${version.padEnd(4)} checkpoint ${String(row.checkpoint).padStart(10)}   ` +
          `lag ${row.lagEvents} events, ${formatDuration(row.lagMs)}   ${row.state}`,
      );
      if (row.failedOn !== null) console.log(`  ${describeFailedEvent(row.name, row.failedOn)}`);
    }
  } finally {
    await models.close();
    await store.close();
  }
}

interface RebuildCliOptions {
  all?: boolean;
  json?: boolean;
  force?: boolean;
  grace: number;
}

/** Progress as JSON lines, or one bar for the shared pass. */
const progressReporter = (
  names: readonly ReadModelName[],
  json: boolean,
): { onProgress: (progress: RebuildProgress) => void; stop: () => void } => {
  if (json) return { onProgress: (progress) => process.stdout.write(`${JSON.stringify(progress)}\n`), stop: () => undefined };
  const bar = new SingleBar({
    format: `${names.join(' + ')} [{bar}] {percentage}% | {value}/{total} | {speed} events/s | ETA {eta_formatted}`,
    hideCursor: true,
    // Not a terminal (a log file, CI): a line every few seconds instead of silence.
    noTTYOutput: true,
    notTTYSchedule: 5000,
  });
  let started = false;
  return {
    onProgress: (progress) => {
      if (progress.readModel !== names[0]) return; // one bar for the shared pass
      if (!started) {
        bar.start(Math.max(progress.headAtStart, 1), 0, { speed: 0 });
        started = true;
      }
      bar.update(Math.min(progress.position, progress.headAtStart), { speed: Math.round(progress.eventsPerSecond) });
    },
    stop: () => bar.stop(),
  };
};

/** `rebuild`: one read model or all of them, with a progress bar (or JSON lines), stoppable with a signal. */
async function runRebuild(name: string | undefined, options: RebuildCliOptions): Promise<void> {
  const names: ReadModelName[] = options.all === true ? (Object.keys(rebuildableReadModels) as ReadModelName[]) : [];
  if (options.all !== true) {
    if (name === undefined || !isReadModelName(name)) {
      program.error(`rebuild needs a read model (${Object.keys(rebuildableReadModels).join(', ')}) or --all`, { exitCode: 2 });
    }
    names.push(name as ReadModelName);
  }
  const config = loadStorageConfig();
  const store = await openEventStore({ eventStoreUrl: config.eventStoreUrl, dataDir: config.dataDir });
  const models = await openReadModelStore({ dataDir: config.dataDir, mongodbUrl: config.mongodbUrl });
  // Ctrl-C or SIGTERM stops between batches: readers stay on the old version and the lease is released.
  const stop = new AbortController();
  const exitCodes = { SIGINT: 130, SIGTERM: 143 } as const;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () =>
      stop.abort(Object.assign(new Error(`${signal}: rebuild stopped`), { exitCode: exitCodes[signal] })),
    );
  }
  try {
    // --all reads the log once and feeds every read model's builder from that one pass.
    const progress = progressReporter(names, options.json === true);
    const results = await rebuildTogether({
      store,
      models,
      readModels: names,
      force: options.force === true,
      signal: stop.signal,
      dropOldVersionsAfterMs: options.grace * 1000,
      onProgress: progress.onProgress,
    }).finally(progress.stop);
    if (options.json !== true) {
      for (const result of results) {
        console.log(
          `${result.readModel}: v${result.version} built from ${result.events} events (${Math.round(result.eventsPerSecond)} events/s); readers switched`,
        );
      }
    }
  } catch (error) {
    // Expected refusals are one clear line, not a stack trace.
    if (error instanceof RebuildInProgressError || (stop.signal.aborted && error === stop.signal.reason)) {
      process.exitCode = error instanceof RebuildInProgressError ? 3 : (error as { exitCode: number }).exitCode;
      console.error(`rebuild: ${(error as Error).message}`);
      return;
    }
    throw error;
  } finally {
    await models.close();
    await store.close();
  }
}

await program.parseAsync();
