/**
 * The read-model store port. Read models are collections of JSON documents, each under a string id,
 * grouped into the databases of the services that own them (user_service, gig_service, clan_service,
 * ledger). Two adapters implement it: embedded SQLite (the default; one file) and MongoDB (one database
 * per service). The contract suite (readModelStore.contract.ts) runs against both.
 *
 * The port is deliberately small: what projections need to write a batch so that replaying it is a
 * no-op, and what the query routes need to read with keyset pagination. Everything a projection
 * computes, it computes in memory; the store only keeps documents and answers indexed queries.
 *
 * Replays are no-ops by construction, on engines with and without multi-document transactions:
 * - `put` carries the log position of the last event folded into the document and only replaces a
 *   stored document whose position is lower (a stored document at or past it stays as it is);
 * - `insert` writes a document only when its id is absent (event-log entries, keyed by event id);
 * - `delete` removes a document whatever it holds (removing twice is removing once);
 * - the checkpoint only moves forward.
 * The embedded adapter applies a commit in one transaction. The MongoDB adapter applies the writes
 * (each one atomic and guarded as above), then moves the checkpoint: a crash in between leaves some
 * documents ahead of the checkpoint, and replaying the batch leaves them as they are.
 */

export type ReadModelDatabase = 'user_service' | 'gig_service' | 'clan_service' | 'ledger';

/** A document: plain JSON (strings, finite numbers, booleans, null, arrays, objects). */
export type Doc = Record<string, unknown>;

export type Scalar = string | number | boolean | null;

export type SortDirection = 1 | -1;

export interface CollectionSpec {
  /** Physical name, unique across databases (versioned read models add `__v{n}`). */
  readonly name: string;
  readonly database: ReadModelDatabase;
  /**
   * Indexes the queries need, each a list of [field, direction]. Fields are top-level document fields;
   * `_id` is the document id (always indexed, unique).
   */
  readonly indexes: readonly (readonly (readonly [field: string, direction: SortDirection])[])[];
}

export type Write =
  /** Replace (or create) the document unless the stored one has a position ≥ `position`. */
  | { readonly op: 'put'; readonly collection: string; readonly id: string; readonly doc: Doc; readonly position: number }
  /** Create the document unless one with this id exists. */
  | { readonly op: 'insert'; readonly collection: string; readonly id: string; readonly doc: Doc }
  /** Remove the document if it exists. */
  | { readonly op: 'delete'; readonly collection: string; readonly id: string };

/** A condition on one field: equal to a scalar, or within numeric bounds. */
export type Condition = Scalar | { readonly lte?: number; readonly gte?: number; readonly lt?: number; readonly gt?: number };

/** Conditions on fields; every one must hold. */
export type Where = Readonly<Record<string, Condition>>;

export interface Query {
  /** Every condition must hold. */
  readonly where?: Where;
  /**
   * Sort keys, most significant first; end with `_id` for a total order. Sort fields must hold
   * non-null values of one type: MongoDB compares values of different types (and null) by type
   * bracketing and SQLite by its own type order, so a cursor across mixed types pages differently.
   */
  readonly orderBy?: readonly (readonly [field: string, direction: SortDirection])[];
  /** Keyset cursor: the values of `orderBy`'s fields in the last document of the previous page. */
  readonly after?: readonly Scalar[];
  readonly limit?: number;
}

/** A stored document as read back: its fields plus `_id` and the `position` it was written at (puts). */
export type StoredDoc = Doc & { readonly _id: string };

export interface ReadModelStore {
  /** Which engine, for status output and logs. */
  readonly engine: 'sqlite' | 'mongodb';
  /** Creates the collection and its indexes when missing (idempotent). */
  ensureCollection(spec: CollectionSpec): Promise<void>;
  /** Drops a collection and its indexes (missing is fine). */
  dropCollection(name: string): Promise<void>;
  /** Names of existing collections starting with `prefix`. */
  listCollections(prefix: string): Promise<string[]>;

  /** The last log position a checkpoint records, or -1. */
  checkpoint(name: string): Promise<number>;
  /**
   * Applies the writes, then moves the checkpoint (if given) forward to `position`. Writes to one
   * collection are applied in the order given; writes to different collections are independent, and
   * an adapter may group them by collection.
   */
  commit(writes: readonly Write[], checkpoint?: { readonly name: string; readonly position: number }): Promise<void>;

  get(collection: string, id: string): Promise<StoredDoc | undefined>;
  /** The documents that exist among `ids`, by id. */
  getMany(collection: string, ids: readonly string[]): Promise<Map<string, StoredDoc>>;
  find(collection: string, query?: Query): Promise<StoredDoc[]>;
  /**
   * One query under several conditions, in one request to the engine (one aggregation on MongoDB;
   * on the embedded engine, which has no round trips, one read transaction): answer `i` is what
   * `find(collection, { ...query, where: wheres[i] })` answers, so each has its own `limit` (the
   * newest boosts of each of a page's targets, say, where one `in` condition would let one target
   * crowd out the others).
   */
  findEach(collection: string, query: Omit<Query, 'where'>, wheres: readonly Where[]): Promise<StoredDoc[][]>;
  count(collection: string, where?: Readonly<Record<string, Condition>>): Promise<number>;

  /** Blue/green: the version readers of a read-model family use, or undefined if never built. */
  activeVersion(family: string): Promise<number | undefined>;
  /** Points readers of a family at `version` (one atomic write). */
  setActiveVersion(family: string, version: number): Promise<void>;
  /**
   * Points readers of a family at `version` only if checkpoint `candidate` (the new version's) has
   * reached checkpoint `current` (the version readers use now); answers whether it switched. The
   * embedded adapter compares and switches in one transaction, so no commit to the current version
   * slips in between and readers never step back. MongoDB has no multi-document transaction here:
   * the comparison and the switch are two operations, and a commit landing between them is shown to
   * readers a moment later, when the live projector follows the switch.
   */
  switchVersionIfCaughtUp(
    family: string,
    version: number,
    checkpoints: { readonly candidate: string; readonly current: string },
  ): Promise<boolean>;

  /** Answers when the engine is reachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Limits every adapter enforces, in one place. */
export const readModelStoreLimits = {
  /**
   * Longest id, in UTF-16 code units. Composite ids (a contributor: the JSON of a clan id and a user
   * id) reach 519 when both ledger ids (at most 128 each) are made of characters JSON escapes.
   */
  idLengthMax: 1024,
  /** Largest page a query returns. */
  findLimitMax: 10_000,
} as const;
