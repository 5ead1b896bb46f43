/**
 * The event store port. Every engine (embedded SQLite, EventStoreDB/KurrentDB) implements this
 * interface exactly, and one contract suite (`eventStore.contract.ts`) runs against each of them.
 *
 * Numbers, not bigints: stream revisions and log positions are plain safe integers across the
 * whole codebase. Adapters whose engine speaks bigint convert at the boundary and assert that
 * the value is a safe integer (a log of 2^53 bytes is far beyond anything this ledger meets).
 */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Where an append expects the stream to be. */
export type ExpectedRevision =
  /** The stream's last event has exactly this revision (revisions start at 0). */
  | number
  /** The stream must not exist yet. */
  | 'no_stream'
  /** No check at all. */
  | 'any';

/** An event as the caller hands it to the store. `id` is the idempotency key. */
export interface EventToAppend {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/** An event as the store recorded it. */
export interface RecordedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
  readonly stream: string;
  /** 0-based position of the event within its stream. */
  readonly revision: number;
  /** Position in the global log; strictly increasing in log order, not necessarily dense. */
  readonly position: number;
  /** When the engine recorded the event (ISO 8601, UTC). Engine time, never used by the domain. */
  readonly recordedAt: string;
}

export interface AppendResult {
  /** Revision of the last event of the stream after this append (pass it as the next expected revision). */
  readonly nextExpectedRevision: number;
  /** Global position of the last event written (or found, for an idempotent repeat). */
  readonly position: number;
  /** True when every event id already existed in the stream and nothing was written. */
  readonly idempotent: boolean;
}

export interface AppendOptions {
  readonly expectedRevision: ExpectedRevision;
  /**
   * The append is keyed: `findEventInStream(stream, events[0].id)` must find it however long the
   * stream is (a point lookup, no lookback window), also after a restart and on every engine. Needs a
   * definite expected revision (a number or 'no_stream'), since the lookup records where the append
   * starts. Costs one extra write on engines without an id index (EventStoreDB); free on SQLite.
   */
  readonly indexed?: true;
}

/** Bounds of the side records (`readRecord`/`writeRecord`), the same on every engine. */
export const eventStoreRecordLimits = {
  /** Longest record key, in UTF-16 code units. */
  keyLengthMax: 256,
  /** Largest record value, as JSON text in UTF-8 bytes. */
  valueBytesMax: 1024 * 1024,
} as const;

export interface ReadStreamOptions {
  readonly direction?: 'forwards' | 'backwards';
  /** Inclusive starting revision; defaults to the start (forwards) or the end (backwards). */
  readonly fromRevision?: number;
  /** At most this many events; bounded by `readBatchEventsMax`. */
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Read events strictly after this global position; omit to read from the beginning. */
  readonly after?: number;
  /** At most this many events; bounded by `readBatchEventsMax`. */
  readonly maxCount?: number;
}

/** Where one event sits in its stream: what `readEvents` looks up. */
export interface StreamRevision {
  readonly stream: string;
  readonly revision: number;
}

/** Most events one `readEvents` call looks up (every engine). */
export const readEventsMax = 1000;

export interface SubscribeToAllOptions {
  /** Deliver events strictly after this global position; omit to start from the beginning. */
  readonly after?: number;
  /** Aborting ends the iteration cleanly. */
  readonly signal?: AbortSignal;
}

export interface EventStore {
  /** Engine name for logs, metrics and banners. */
  readonly engine: 'sqlite' | 'esdb';

  /**
   * Appends events atomically with an optimistic concurrency check.
   *
   * - A wrong expected revision rejects with `StreamRevisionConflictError`, whatever the engine.
   * - If every event id already exists in this stream (a retried append), nothing is written and the
   *   original position is returned with `idempotent: true`, also after a restart.
   * - An event id that exists in another stream, or a batch mixing new and existing ids, rejects with
   *   `EventIdConflictError`: an id means one event, everywhere.
   */
  append(stream: string, events: readonly EventToAppend[], options: AppendOptions): Promise<AppendResult>;

  /** Reads one stream. A stream that does not exist reads as empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /**
   * Reads the event at each (stream, revision), in one call: the answer has one entry per reference,
   * in the same order, undefined where the stream has no event at that revision that it returns (the
   * stream or the event does not exist, or the engine hides it: deleted, truncated). At most
   * `readEventsMax` references; a reference may repeat. The audit queries read their index's
   * references back with it (batched: one statement on SQLite instead of one per event).
   */
  readEvents(refs: readonly StreamRevision[]): Promise<(RecordedEvent | undefined)[]>;

  /** Reads one bounded batch of the global log in log order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;

  /**
   * Follows the global log: catches up from `after`, then delivers new events as they are appended.
   * Back-pressure: the next batch is read only when the consumer pulls, so memory stays bounded by
   * one read batch whatever the consumer's speed.
   */
  subscribeToAll(options?: SubscribeToAllOptions): AsyncIterable<RecordedEvent>;

  /** Global position of the last event in the log, or -1 for an empty log. Used for lag. */
  headPosition(): Promise<number>;

  /**
   * Finds an event by id within a stream; used to answer retried commands with their original result.
   * Guaranteed, on every engine and for any stream length, for the first event of an append made with
   * `indexed: true` (a point lookup, never a scan). Other ids may or may not be found, depending on
   * the engine (SQLite indexes every id; EventStoreDB only indexed appends).
   */
  findEventInStream(stream: string, eventId: string): Promise<RecordedEvent | undefined>;

  /**
   * Side records: small documents kept with the log, as durable as it, but never part of it (never
   * returned by `readStream`, `readAll` or `subscribeToAll`). Account snapshots and checkpoints that
   * must survive losing the read-model store live here. Undefined when the key was never written.
   */
  readRecord(key: string): Promise<JsonObject | undefined>;

  /** Writes a side record; the last write of a key wins. Bounded by `eventStoreRecordLimits`. */
  writeRecord(key: string, value: JsonObject): Promise<void>;

  close(): Promise<void>;
}
