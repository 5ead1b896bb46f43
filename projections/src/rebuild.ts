import type { EventStore } from '../../ledger/src/eventStore/eventStore.js';
import { AccountBalancesProjection, accountBalancesTables } from './balances/accountBalances.js';
import type { SqliteReadModels } from './readModels/sqliteReadModels.js';
import type { VersionedProjection } from './readModels/versionedProjection.js';
import { activate, activeVersion, builtVersions, dropInactive } from './readModels/versions.js';
import { ServiceReadModelsProjection, serviceReadModelTables } from './services/serviceReadModels.js';

export const rebuildableReadModels = {
  account_balances: (models: SqliteReadModels, version?: number) =>
    new AccountBalancesProjection(models, version === undefined ? {} : { version }),
  service_read_models: (models: SqliteReadModels, version?: number) =>
    new ServiceReadModelsProjection(models, version === undefined ? {} : { version }),
} as const satisfies Record<string, (models: SqliteReadModels, version?: number) => VersionedProjection>;

export type ReadModelName = keyof typeof rebuildableReadModels;

/** Each read model's tables, known without opening one (the first names its versions in the schema). */
const readModelTables: Record<ReadModelName, readonly string[]> = {
  account_balances: accountBalancesTables,
  service_read_models: serviceReadModelTables,
};
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
export const rebuildLimits = { readBatchEventsMax: 1000 } as const;

/**
 * Blue/green rebuild of one read model: replays the whole log into a new version while the active
 * version keeps serving (and the live projector keeps it current), then, once the new version has
 * caught up, points every reader view at it in one transaction and drops the old tables. A live
 * projector notices the switch at its next batch and follows the new version from its checkpoint.
 * Runs beside a live server: the read-model file is shared through SQLite's locking.
 */
export const rebuild = async (options: {
  store: EventStore;
  models: SqliteReadModels;
  readModel: ReadModelName;
  onProgress?: (progress: RebuildProgress) => void;
  nowMs?: () => number;
}): Promise<RebuildProgress> => {
  const { store, models, readModel } = options;
  const now = options.nowMs ?? (() => performance.now());
  const version =
    Math.max(activeVersion(models.db, readModel) ?? 0, ...builtVersions(models.db, readModelTables[readModel][0] ?? readModel)) +
    1;
  const builder = rebuildableReadModels[readModel](models, version);
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
  for (;;) {
    const batch = await store.readAll({ after: position, maxCount: rebuildLimits.readBatchEventsMax });
    if (batch.length === 0) break;
    await builder.handle(batch);
    position = batch[batch.length - 1]?.position ?? position;
    events += batch.length;
    options.onProgress?.(progress(false));
  }
  // Caught up: switch every reader to the new version at once, then let go of the old one.
  models.transaction(() => activate(models.db, readModel, version, builder.tables));
  models.transaction(() => dropInactive(models.db, readModel, builder.tables));
  const final = progress(true);
  options.onProgress?.(final);
  return final;
};
