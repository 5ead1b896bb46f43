import { accountEventOf, type RecordedEvent } from '../../../ledger/src/index.js';
import type { CollectionSpec, ReadModelStore, StoredDoc, Write } from '../readModels/readModelStore.js';

/** The durable pending set: one document per active boost, keyed by booster, boost id and due time (`pendingId`). */
export const pendingExpiries: CollectionSpec = {
  name: 'pending_expiries',
  database: 'ledger',
  indexes: [
    [
      ['dueAtMs', 1],
      ['_id', 1],
    ],
  ],
};

/** One pending expiry: `userId` owns the account the boost was paid from. */
export interface PendingExpiry {
  readonly id: string;
  readonly boostId: string;
  readonly userId: string;
  readonly dueAtMs: number;
  readonly dueAt: string;
}

/**
 * The projection half of boost expiry: keeps the pending set (one document per active boost with its
 * due time, committed with its checkpoint), so a restart does not replay history, and answers the
 * scheduler's questions about it (boostExpiryScheduler.ts).
 */
export class PendingExpiries {
  /** The checkpoint's name (the projector reports it as the expiry scheduler's). */
  readonly name = 'boost_expiry';
  readonly #store: ReadModelStore;
  #ready: Promise<void> | undefined;

  constructor(store: ReadModelStore) {
    this.#store = store;
  }

  #ensured(): Promise<void> {
    // A failure (the store locked or unreachable at start) is not remembered: the next call tries again.
    this.#ready ??= this.#store.ensureCollection(pendingExpiries).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async loadCheckpoint(): Promise<number> {
    await this.#ensured();
    return this.#store.checkpoint(this.name);
  }

  /** Adds each activated boost and removes each expired one, with the checkpoint (a replay changes nothing). */
  async handle(batch: readonly RecordedEvent[]): Promise<void> {
    await this.#ensured();
    const applied = await this.#store.checkpoint(this.name);
    const writes: Write[] = [];
    for (const recorded of batch) {
      if (recorded.position <= applied) continue;
      if (recorded.type !== 'BoostActivated' && recorded.type !== 'BoostExpired') continue;
      const decoded = accountEventOf(recorded);
      if (decoded === undefined) continue;
      const { userId, event } = decoded;
      if (event.type === 'BoostActivated') {
        const { boostId, expiresAt } = event.data;
        writes.push({
          op: 'insert',
          collection: pendingExpiries.name,
          id: pendingId(userId, boostId, expiresAt),
          doc: { userId, boostId, dueAtMs: Date.parse(expiresAt), dueAt: expiresAt },
        });
      } else if (event.type === 'BoostExpired') {
        writes.push({
          op: 'delete',
          collection: pendingExpiries.name,
          id: pendingId(userId, event.data.boostId, event.data.dueAt),
        });
      }
    }
    const last = batch[batch.length - 1];
    if (last !== undefined && last.position > applied)
      await this.#store.commit(writes, { name: this.name, position: last.position });
  }

  async count(): Promise<number> {
    await this.#ensured();
    return this.#store.count(pendingExpiries.name);
  }

  /** A page of what is due at `nowMs`, by due time, after `after` (the last row of the previous page). */
  async due(nowMs: number, limit: number, after?: readonly [dueAtMs: number, id: string]): Promise<PendingExpiry[]> {
    await this.#ensured();
    const docs = await this.#store.find(pendingExpiries.name, {
      where: { dueAtMs: { lte: nowMs } },
      orderBy: [
        ['dueAtMs', 1],
        ['_id', 1],
      ],
      limit,
      ...(after === undefined ? {} : { after }),
    });
    return docs.map(toPending);
  }

  /** The expiry due first, if any. */
  async next(): Promise<PendingExpiry | undefined> {
    await this.#ensured();
    const [next] = await this.#store.find(pendingExpiries.name, {
      orderBy: [
        ['dueAtMs', 1],
        ['_id', 1],
      ],
      limit: 1,
    });
    return next === undefined ? undefined : toPending(next);
  }

  /** Removes settled expiries ahead of their BoostExpired (which removes them again, harmlessly). */
  async remove(ids: readonly string[]): Promise<void> {
    await this.#store.commit(ids.map((id) => ({ op: 'delete', collection: pendingExpiries.name, id })));
  }
}

/**
 * Boost ids are chosen per account, and one may be reused once its boost expired: the booster, the
 * boost id and the due time name one activation's pending expiry.
 */
const pendingId = (userId: string, boostId: string, dueAt: string): string => JSON.stringify([userId, boostId, dueAt]);

const toPending = (doc: StoredDoc): PendingExpiry => ({
  id: doc._id,
  boostId: doc.boostId as string,
  userId: doc.userId as string,
  dueAtMs: doc.dueAtMs as number,
  dueAt: doc.dueAt as string,
});
