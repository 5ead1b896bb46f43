import type { EventStore } from '../../ledger/src/eventStore/eventStore.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setImmediate } from 'node:timers/promises';
import type { CollectionSpec, ReadModelStore } from './readModels/readModelStore.js';
import {
  builtVersions,
  physicalCollection,
  type VersionedProjection,
  type VersionedProjectionOptions,
} from './readModels/versionedProjection.js';
import { ServiceReadModelsProjection } from './services/serviceReadModels.js';

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
export const rebuildLimits = { readBatchEventsMax: 5000 } as const;

export interface RebuildOptions {
  readonly store: EventStore;
  readonly models: ReadModelStore;
  readonly readModel: ReadModelName;
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
}

/**
 * Blue/green rebuild of one read model: replays the whole log into a new version while the active
 * version keeps serving (and the live projector keeps it current), then, once the new version has
 * caught up, points readers at it with one atomic write and drops the old collections. A live
 * projector notices the switch at its next batch and follows the new version from its checkpoint.
 * Runs beside a live server: on the embedded engine the read-model file is shared through SQLite's
 * locking; on MongoDB the server is shared.
 */
export const rebuild = async (options: RebuildOptions): Promise<RebuildProgress> => {
  const { models, readModel } = options;
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  await acquireLease(models, readModel, owner, options.force === true);
  try {
    return await rebuildHoldingLease(options, () => checkLease(models, readModel, owner));
  } finally {
    // Only our own lease: one taken over with --force belongs to the rebuild that took it.
    if ((await models.get(rebuildLeases.name, readModel))?.owner === owner)
      await models.commit([{ op: 'delete', collection: rebuildLeases.name, id: readModel }]);
  }
};

/** One rebuild per read model at a time: a second one would drop the first one's half-built version. */
export const rebuildLeases: CollectionSpec = { name: 'rebuild_leases', database: 'ledger', indexes: [] };

export class RebuildInProgressError extends Error {
  override name = 'RebuildInProgressError';
}

const acquireLease = async (models: ReadModelStore, readModel: ReadModelName, owner: string, force: boolean): Promise<void> => {
  await models.ensureCollection(rebuildLeases);
  if (force) await models.commit([{ op: 'delete', collection: rebuildLeases.name, id: readModel }]);
  const lease = { owner, startedAt: new Date().toISOString() };
  await models.commit([{ op: 'insert', collection: rebuildLeases.name, id: readModel, doc: lease }]);
  const held = await models.get(rebuildLeases.name, readModel);
  if (held?.owner !== owner) {
    throw new RebuildInProgressError(
      `${readModel} is already being rebuilt by ${String(held?.owner)} since ${String(held?.startedAt)}; ` +
        'if that rebuild is gone (crashed or killed), run again with --force',
    );
  }
};

/** Refuses to go on once another rebuild took the lease over (--force): it owns the read model now. */
const checkLease = async (models: ReadModelStore, readModel: ReadModelName, owner: string): Promise<void> => {
  const held = await models.get(rebuildLeases.name, readModel);
  if (held?.owner !== owner)
    throw new RebuildInProgressError(`${readModel}: the rebuild lease was taken over by ${String(held?.owner)}; stopping`);
};

const rebuildHoldingLease = async (options: RebuildOptions, stillOurs: () => Promise<void>): Promise<RebuildProgress> => {
  const { store, models, readModel } = options;
  const now = options.nowMs ?? (() => performance.now());
  const probe = rebuildableReadModels[readModel](models);
  const built = await Promise.all(probe.collections.map((spec) => builtVersions(models, spec.name)));
  // Never version 1: a live projector that finds no version at all creates and activates v1 itself.
  const version = Math.max((await models.activeVersion(readModel)) ?? 1, ...built.flat()) + 1;
  const builder = rebuildableReadModels[readModel](models, {
    version,
    ...(options.builderFlushEvents === undefined ? {} : { builderFlushEvents: options.builderFlushEvents }),
  });
  await builder.loadCheckpoint();
  const headAtStart = await store.headPosition();
  const started = now();
  let position = -1;
  let events = 0;
  const progress = (done: boolean): RebuildProgress => {
    const seconds = Math.max((now() - started) / 1000, 1e-6);
    const eventsPerSecond = events / seconds;
    const remaining = Math.max(0, headAtStart - position);
    return {
      readModel,
      version,
      position,
      headAtStart,
      events,
      eventsPerSecond,
      etaSeconds: eventsPerSecond > 0 ? remaining / eventsPerSecond : 0,
      done,
    };
  };
  const catchUp = async (): Promise<void> => {
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
      await builder.handle(batch);
      position = batch[batch.length - 1]?.position ?? position;
      events += batch.length;
      options.onProgress?.(progress(false));
    }
  };
  await catchUp();
  // Caught up: index the new version, and catch up again with what arrived meanwhile (so readers do
  // not step back from what the live version already showed), then switch every reader to it at once
  // and let go of the old version.
  await builder.finishBuild();
  await catchUp();
  await builder.flush();
  await stillOurs();
  await models.setActiveVersion(readModel, version);
  // What arrived during the last flush went only to the old version: bring the new one level before
  // the old one goes (the live projector, following the switch, may write the same documents: the
  // position guards make that harmless).
  await catchUp();
  await builder.flush();
  for (const spec of builder.collections) {
    for (const old of await builtVersions(models, spec.name))
      if (old !== version) await models.dropCollection(physicalCollection(spec.name, old));
  }
  const final = progress(true);
  options.onProgress?.(final);
  return final;
};
