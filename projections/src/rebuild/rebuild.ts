import { type EventStore } from '../../../ledger/src/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate, setTimeout as delay } from 'node:timers/promises';
import type { ReadModelStore } from '../readModels/readModelStore.js';
import { acquireLease, checkLease, releaseLeases } from './leases.js';

export { rebuildLeases, RebuildInProgressError } from './leases.js';
import {
  builtVersions,
  physicalCollection,
  versionedCheckpointName,
  type VersionedProjection,
  type VersionedProjectionOptions,
} from '../readModels/versionedProjection.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';

export const rebuildableReadModels = {
  account_balances: (store: ReadModelStore, options?: VersionedProjectionOptions) =>
    new AccountBalancesProjection(store, options),
  service_read_models: (store: ReadModelStore, options?: VersionedProjectionOptions) =>
    new ServiceReadModelsProjection(store, options),
} as const satisfies Record<string, (store: ReadModelStore, options?: VersionedProjectionOptions) => VersionedProjection>;

export type ReadModelName = keyof typeof rebuildableReadModels;

export const isReadModelName = (name: string): name is ReadModelName => Object.hasOwn(rebuildableReadModels, name);

export interface RebuildProgress {
  readonly readModel: ReadModelName;
  readonly version: number;
  /** Last log position applied to the new version. */
  readonly position: number;
  /** The head of the log when the rebuild started (the progress bar's total). */
  readonly headAtStart: number;
  readonly events: number;
  readonly eventsPerSecond: number;
  readonly etaSeconds: number;
  readonly done: boolean;
}

/** Rebuild limits, in one place. */
export const rebuildLimits = {
  readBatchEventsMax: 5000,
  /**
   * After readers switch, how long the old version is kept before it is dropped: a request that
   * resolved the old version just before the switch (in this process or another) still finishes on it.
   */
  dropOldVersionsAfterMs: 2000,
  /** Longest pause between attempts to switch readers while the live version keeps moving ahead. */
  switchRetryPauseMsMax: 500,
} as const;

/** Waits `ms`, or less if the signal fires (the caller checks it). */
const pause = async (ms: number, signal: AbortSignal | undefined): Promise<void> => {
  try {
    await delay(ms, undefined, signal === undefined ? {} : { signal });
  } catch {
    // Aborted: the next catch-up throws the signal's reason.
  }
};

export interface RebuildOptions {
  readonly store: EventStore;
  readonly models: ReadModelStore;
  readonly readModel: ReadModelName;
  /** Called after every batch (and once at the end, with `done`). */
  readonly onProgress?: (progress: RebuildProgress) => void;
  readonly nowMs?: () => number;
  /** Who holds the lease while this rebuild runs (default: host and process id). */
  readonly owner?: string;
  /** Take over a lease another rebuild left behind (it crashed, or was killed). */
  readonly force?: boolean;
  /** Stops the rebuild between batches (readers stay on the old version; the lease is released). */
  readonly signal?: AbortSignal;
  /** Events read per batch and folded per commit (defaults in `rebuildLimits`/`projectionLimits`; tests make them small). */
  readonly readBatchEvents?: number;
  readonly builderFlushEvents?: number;
  /** Grace before the old versions are dropped (default `rebuildLimits.dropOldVersionsAfterMs`). */
  readonly dropOldVersionsAfterMs?: number;
}

/** Several read models rebuilt from one pass over the log (`--all`). */
export type RebuildTogetherOptions = Omit<RebuildOptions, 'readModel'> & { readonly readModels: readonly ReadModelName[] };

/**
 * Blue/green rebuild of one read model: replays the whole log into a new version while the active
 * version keeps serving (and the live projector keeps it current), then, once the new version has
 * caught up, points readers at it with one atomic write and drops the old collections. A live
 * projector notices the switch at its next batch and follows the new version from its checkpoint.
 * Runs beside a live server: on the embedded engine the read-model file is shared through SQLite's
 * locking; on MongoDB the server is shared.
 */
export const rebuild = async (options: RebuildOptions): Promise<RebuildProgress> => {
  const [result] = await rebuildTogether({ ...options, readModels: [options.readModel] });
  assert.ok(result !== undefined);
  return result;
};

/**
 * Rebuilds several read models from one read of the log: each batch is read (and decoded) once and
 * handed to every builder. Each read model still has its own lease, version and switch; readers of
 * each switch when all of them have caught up.
 */
export const rebuildTogether = async (options: RebuildTogetherOptions): Promise<RebuildProgress[]> => {
  const { models } = options;
  const readModels = [...new Set(options.readModels)];
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  try {
    for (const readModel of readModels) await acquireLease(models, readModel, owner, options.force === true);
    return await rebuildHoldingLeases(options, readModels, async () => {
      for (const readModel of readModels) await checkLease(models, readModel, owner);
    });
  } finally {
    await releaseLeases(models, readModels, owner);
  }
};

/** A read model's builder and the version it fills. */
interface Builder {
  readonly readModel: ReadModelName;
  readonly version: number;
  readonly builder: VersionedProjection;
}

const rebuildHoldingLeases = async (
  options: RebuildTogetherOptions,
  readModels: readonly ReadModelName[],
  stillOurs: () => Promise<void>,
): Promise<RebuildProgress[]> => {
  const { store, models } = options;
  const now = options.nowMs ?? (() => performance.now());
  const builders = await startBuilders(options, readModels);
  const headAtStart = await store.headPosition();
  const started = now();
  let position = -1;
  let events = 0;
  const progress = (done: boolean): RebuildProgress[] => {
    const seconds = Math.max((now() - started) / 1000, 1e-6);
    const eventsPerSecond = events / seconds;
    const remaining = Math.max(0, headAtStart - position);
    return builders.map(({ readModel, version }) => ({
      readModel,
      version,
      position,
      headAtStart,
      events,
      eventsPerSecond,
      etaSeconds: eventsPerSecond > 0 ? remaining / eventsPerSecond : 0,
      done,
    }));
  };
  /** Feeds the builders still filling their versions everything up to the head of the log. */
  const catchUp = async (feeding: readonly Builder[]): Promise<void> => {
    for (;;) {
      // A turn of the event loop per batch: the embedded store answers synchronously, and without it
      // a signal (Ctrl-C) would only be seen once the whole rebuild was over.
      await setImmediate();
      options.signal?.throwIfAborted();
      const batch = await store.readAll({
        after: position,
        maxCount: options.readBatchEvents ?? rebuildLimits.readBatchEventsMax,
      });
      if (batch.length === 0) return;
      for (const { builder } of feeding) await builder.handle(batch);
      position = batch[batch.length - 1]?.position ?? position;
      events += batch.length;
      if (options.onProgress !== undefined) for (const one of progress(false)) options.onProgress(one);
    }
  };
  await catchUp(builders);
  // Caught up: index the new versions, then switch readers once each has caught up again.
  for (const { builder } of builders) await builder.finishBuild();
  await switchReaders(options, builders, catchUp, stillOurs);
  // The figures are the build's: measured now, reported once the old versions are gone.
  const done = progress(true);
  await delay(options.dropOldVersionsAfterMs ?? rebuildLimits.dropOldVersionsAfterMs);
  await dropOldVersions(models, builders);
  if (options.onProgress !== undefined) for (const one of done) options.onProgress(one);
  return done;
};

/** A builder per read model, each for a version newer than any that exists. */
const startBuilders = async (options: RebuildTogetherOptions, readModels: readonly ReadModelName[]): Promise<Builder[]> => {
  const { models } = options;
  const builders: Builder[] = [];
  for (const readModel of readModels) {
    const probe = rebuildableReadModels[readModel](models);
    const built = await Promise.all(probe.collections.map((spec) => builtVersions(models, spec.name)));
    // Never version 1: a live projector that finds no version at all creates and activates v1 itself.
    const version = Math.max((await models.activeVersion(readModel)) ?? 1, ...built.flat()) + 1;
    const builder = rebuildableReadModels[readModel](models, {
      version,
      ...(options.builderFlushEvents === undefined ? {} : { builderFlushEvents: options.builderFlushEvents }),
    });
    await builder.loadCheckpoint();
    builders.push({ readModel, version, builder });
  }
  return builders;
};

/**
 * Switches each read model's readers to its new version — only once the new version has everything
 * the version readers use now has (its checkpoint is at least as far), compared and switched in one
 * step, so readers never step back from what they were shown. Until then: catch up, flush, try again.
 */
const switchReaders = async (
  options: RebuildTogetherOptions,
  builders: readonly Builder[],
  catchUp: (feeding: readonly Builder[]) => Promise<void>,
  stillOurs: () => Promise<void>,
): Promise<void> => {
  const { store, models } = options;
  /** The builders still filling their versions (a switched one takes no more writes: the live projector has it). */
  let feeding = builders;
  for (let attempt = 0; ; attempt++) {
    await catchUp(feeding);
    for (const { builder } of feeding) await builder.flush();
    await stillOurs();
    // Each read model switches on its own (one atomic write each); should one switch fail, the read
    // models before it already serve their new versions, and the rest keep their old ones (a stop
    // request still stops those).
    const waiting: Builder[] = [];
    for (const entry of feeding) {
      const { readModel, version, builder } = entry;
      const current = versionedCheckpointName(readModel, (await models.activeVersion(readModel)) ?? 1);
      if (await models.switchVersionIfCaughtUp(readModel, version, { candidate: builder.checkpointName, current })) continue;
      // A live version ahead of the log itself (the log was restored from a backup) is never caught
      // up with: the new version, built from the log as it is, is the one to serve.
      if ((await models.checkpoint(current)) > (await store.headPosition())) {
        await models.setActiveVersion(readModel, version);
        continue;
      }
      waiting.push(entry);
    }
    feeding = waiting;
    if (feeding.length === 0) return;
    // The live projector committed more meanwhile: give it a moment to settle, then catch up again.
    await pause(Math.min(rebuildLimits.switchRetryPauseMsMax, 2 ** attempt), options.signal);
  }
};

/** Drops the versions older than the new ones (a newer one belongs to a rebuild that took over with --force). */
const dropOldVersions = async (models: ReadModelStore, builders: readonly Builder[]): Promise<void> => {
  for (const { version, builder } of builders) {
    for (const spec of builder.collections) {
      for (const old of await builtVersions(models, spec.name))
        if (old < version) await models.dropCollection(physicalCollection(spec.name, old));
    }
  }
};
