import type { CollectionSpec, ReadModelStore } from '../readModels/readModelStore.js';

/**
 * The rebuild leases: one rebuild per read model at a time, because a second one would drop the first
 * one's half-built version.
 */

export const rebuildLeases: CollectionSpec = { name: 'rebuild_leases', database: 'ledger', indexes: [] };

export class RebuildInProgressError extends Error {
  override name = 'RebuildInProgressError';
}

export const acquireLease = async (models: ReadModelStore, readModel: string, owner: string, force: boolean): Promise<void> => {
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
export const checkLease = async (models: ReadModelStore, readModel: string, owner: string): Promise<void> => {
  const held = await models.get(rebuildLeases.name, readModel);
  if (held?.owner !== owner)
    throw new RebuildInProgressError(`${readModel}: the rebuild lease was taken over by ${String(held?.owner)}; stopping`);
};

/**
 * Releases the leases `owner` still holds. Only our own (one taken over with --force belongs to the
 * rebuild that took it), each on its own: a failure to release one must neither keep the others nor
 * hide why the rebuild ended.
 */
export const releaseLeases = async (models: ReadModelStore, readModels: readonly string[], owner: string): Promise<void> => {
  for (const readModel of readModels) {
    try {
      if ((await models.get(rebuildLeases.name, readModel))?.owner === owner)
        await models.commit([{ op: 'delete', collection: rebuildLeases.name, id: readModel }]);
    } catch {
      // Left behind: the next rebuild of this read model says who holds it, and --force takes it over.
    }
  }
};
