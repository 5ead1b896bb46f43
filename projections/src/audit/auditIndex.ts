import { type RecordedEvent, traceKeysOf, type EventRef, type TraceKey } from '../../../ledger/src/index.js';
import type { CollectionSpec, ReadModelStore, Write } from '../readModels/readModelStore.js';
import type { Subscriber } from '../runtime/subscriber.js';

export const auditIndexLimits = {
  /** Most references one lookup returns (a correlation, a boost, a transfer, a target's boosts). */
  lookupRefsMax: 1000,
} as const;

const collection = 'audit_index';

/** The projection's name, which is also its checkpoint's (what `npm run projections -- status` lists). */
export const auditIndexName = 'audit_index';

export const auditIndexCollections: readonly CollectionSpec[] = [
  {
    name: collection,
    database: 'ledger',
    indexes: [
      [
        ['kind', 1],
        ['key', 1],
        ['position', 1],
      ],
    ],
  },
];

/**
 * `audit_index`: where in the log each event of a request (correlation id), a boost, a gig payment
 * (transfer id) and a boost target can be found. Only references (stream, revision, position): the
 * audit routes read every event back from the log and check it carries the key, so the index can make
 * a query fast but never make it say something the log does not. One `insert` per (key, event), keyed
 * by both, so a replayed batch changes nothing.
 */
export class AuditIndexProjection implements Subscriber {
  readonly name = auditIndexName;
  readonly #store: ReadModelStore;
  #ready: Promise<void> | undefined;

  constructor(store: ReadModelStore) {
    this.#store = store;
  }

  #ensure(): Promise<void> {
    this.#ready ??= Promise.all(auditIndexCollections.map((spec) => this.#store.ensureCollection(spec))).then(() => undefined);
    return this.#ready;
  }

  async loadCheckpoint(): Promise<number> {
    await this.#ensure();
    return this.#store.checkpoint(this.name);
  }

  async handle(batch: readonly RecordedEvent[]): Promise<void> {
    await this.#ensure();
    const writes: Write[] = [];
    for (const event of batch)
      for (const { kind, key } of traceKeysOf(event))
        writes.push({
          op: 'insert',
          collection,
          id: JSON.stringify([kind, key, event.position]),
          doc: { kind, key, stream: event.stream, revision: event.revision, position: event.position },
        });
    const last = batch[batch.length - 1];
    if (last !== undefined) await this.#store.commit(writes, { name: this.name, position: last.position });
  }

  /** References to the events under one key, in log order, at most `limit` (default and bound `lookupRefsMax`). */
  async lookup(key: TraceKey, options: { readonly fromPosition?: number; readonly limit?: number } = {}): Promise<EventRef[]> {
    await this.#ensure();
    const docs = await this.#store.find(collection, {
      where: {
        kind: key.kind,
        key: key.key,
        ...(options.fromPosition === undefined ? {} : { position: { gte: options.fromPosition } }),
      },
      orderBy: [
        ['position', 1],
        ['_id', 1],
      ],
      limit: Math.min(options.limit ?? auditIndexLimits.lookupRefsMax, auditIndexLimits.lookupRefsMax),
    });
    return docs.map((doc) => ({ stream: String(doc.stream), revision: Number(doc.revision), position: Number(doc.position) }));
  }
}
