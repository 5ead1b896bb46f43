// Over 400 lines on purpose: the whole embedded adapter, one class implementing the port (as the ESDB one
// is). The write path (appends queued per turn, a group handed to the writer thread or written inline,
// outcomes settled) and the read path share the database handle, the writer's failure and the close
// sequence; the schema and the group writer already live in files of their own.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { EventIdConflictError, EventStoreUnavailableError, StreamRevisionConflictError } from '../errors.js';
import { checkRecord } from '../records.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventToAppend,
  JsonObject,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamRevision,
  SubscribeToAllOptions,
} from '../eventStore.js';
import { readEventsMax } from '../eventStore.js';
import { createGroupWriter, type AppendOutcome, type GroupOutcome, type SerializedAppend } from './groupWriter.js';
import { openEventsDatabase, sqliteEventStoreLimits, type Durability, type EventRow } from './sqliteSchema.js';
import type { WriterRequest } from './sqliteWriter.worker.js';

export { openEventsDatabase, sqliteEventStoreLimits } from './sqliteSchema.js';

export interface SqliteEventStoreOptions {
  /** Path of the database file. */
  readonly path: string;
  /**
   * `full` (default) fsyncs the WAL on every commit: an acknowledged append survives power loss.
   * `normal` survives a process crash but may lose the last commits on power loss; tests only.
   */
  readonly durability?: Durability;
  readonly pollIntervalMs?: number;
  /**
   * `inline` (default): commits run on the caller's thread at the end of the event-loop turn.
   * `thread`: commits run on a writer thread, so an fsync never blocks the event loop. Measured on
   * these 2-core machines, the thread costs more (message passing, a third busy thread) than the
   * blocked fsync saves, so it is off by default; `npm run bench` reports both.
   */
  readonly writer?: 'thread' | 'inline';
  /** Checkpoint the WAL from a background thread (default true); false leaves it to autocheckpoint. */
  readonly backgroundCheckpoints?: boolean;
}

interface PendingAppend {
  readonly append: SerializedAppend;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Starts a worker module of this folder, whether we run from TypeScript sources or compiled output. */
const startWorker = (name: 'sqliteWriter' | 'sqliteCheckpointer', data: Record<string, unknown>): Worker => {
  if (import.meta.url.endsWith('.ts')) {
    // From sources (npm start, tests): a tiny JavaScript bootstrap registers tsx in the new thread.
    const entry = new URL(`./${name}.worker.ts`, import.meta.url).href;
    return new Worker(new URL('./sqliteWriter.bootstrap.mjs', import.meta.url), { workerData: { ...data, entry } });
  }
  return new Worker(new URL(`./${name}.worker.js`, import.meta.url), { workerData: data });
};

/**
 * The embedded engine: one SQLite file in WAL mode, one global order (the rowid), unique
 * (stream, revision) and unique event id.
 *
 * Group commit: appends queue up during one turn of the event loop (and, with a writer thread, while
 * the previous group is being committed) and are written by one transaction, so N concurrent commands
 * pay for one fsync, not N. Each append in a group is checked and applied on its own; one conflict
 * fails only its own caller. Reads see a group as soon as it has been committed.
 */
export class SqliteEventStore implements EventStore {
  readonly engine = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #pollIntervalMs: number;
  readonly #appended = new EventEmitter();
  readonly #commitInline: ((group: readonly SerializedAppend[], recordedAt: string) => GroupOutcome) | undefined;
  readonly #worker: Worker | undefined;
  readonly #checkpointer: Worker | undefined;
  readonly #workerReady: Promise<void> | undefined;
  #workerFailure: Error | undefined;
  #pending: PendingAppend[] = [];
  #inFlight: { readonly id: number; readonly group: PendingAppend[] } | undefined;
  #nextGroupId = 0;
  #dispatchScheduled = false;
  #closing = false;
  /** The one close, which later calls wait for too. */
  #closeDone: Promise<void> | undefined;
  #closed = false;
  #drained: (() => void) | undefined;

  readonly #statements: {
    readForwards: Database.Statement<[string, number, number], EventRow>;
    readBackwards: Database.Statement<[string, number, number], EventRow>;
    readAll: Database.Statement<[number, number], EventRow>;
    readEvents: Database.Statement<[string], EventRow>;
    head: Database.Statement<[], { position: number | null }>;
    findInStream: Database.Statement<[string, string], EventRow>;
    readRecord: Database.Statement<[string], { value: string }>;
    writeRecord: Database.Statement<[string, string]>;
  };

  constructor(options: SqliteEventStoreOptions) {
    assert.notEqual(options.path, ':memory:', 'the embedded store needs a file (the writer thread opens it too)');
    const durability = options.durability ?? 'full';
    this.#db = openEventsDatabase(options.path, durability);
    this.#pollIntervalMs = options.pollIntervalMs ?? sqliteEventStoreLimits.pollIntervalMs;
    this.#appended.setMaxListeners(0);
    this.#statements = {
      readForwards: this.#db.prepare('SELECT * FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?'),
      readBackwards: this.#db.prepare('SELECT * FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?'),
      readAll: this.#db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position ASC LIMIT ?'),
      // The references as one JSON parameter ([[stream, revision], …]): one statement whatever their
      // number, each a point lookup on the (stream, revision) index.
      readEvents: this.#db.prepare(
        `SELECT e.* FROM json_each(?) AS r JOIN events AS e
           ON e.stream = json_extract(r.value, '$[0]') AND e.revision = json_extract(r.value, '$[1]')`,
      ),
      head: this.#db.prepare('SELECT MAX(position) AS position FROM events'),
      findInStream: this.#db.prepare('SELECT * FROM events WHERE event_id = ? AND stream = ?'),
      readRecord: this.#db.prepare('SELECT value FROM records WHERE key = ?'),
      writeRecord: this.#db.prepare(
        'INSERT INTO records (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
    };
    if (options.backgroundCheckpoints !== false) {
      const checkpointer = startWorker('sqliteCheckpointer', { path: options.path });
      // A failed checkpointer costs latency, never data: autocheckpoint still runs.
      checkpointer.on('error', () => undefined);
      checkpointer.unref();
      this.#checkpointer = checkpointer;
    }
    if (options.writer !== 'thread') {
      this.#commitInline = createGroupWriter(this.#db);
    } else {
      const worker = startWorker('sqliteWriter', { path: options.path, durability });
      this.#worker = worker;
      this.#workerReady = new Promise<void>((resolve, reject) => {
        worker.once('message', () => resolve());
        worker.once('error', reject);
      });
      // Nothing awaits readiness before the first append; a failed start surfaces there.
      this.#workerReady.catch(() => undefined);
      worker.on('message', (message: { id?: number; outcome?: GroupOutcome }) => {
        if (message.id !== undefined && message.outcome !== undefined) this.#settle(message.id, message.outcome);
      });
      worker.on('error', (error) => this.#failWriter(error));
      worker.on('exit', (code) => {
        if (!this.#closed) this.#failWriter(new Error(`writer thread exited with code ${code}`));
      });
    }
  }

  /** `indexed` needs nothing here: the unique index on event_id already makes every id a point lookup. */
  append(stream: string, events: readonly EventToAppend[], options: AppendOptions): Promise<AppendResult> {
    // A request that slipped in while the process shuts down gets a retryable answer (503), not a crash.
    if (this.#closing) return Promise.reject(new EventStoreUnavailableError('embedded event store is closing'));
    assert.ok(stream.length > 0, 'stream name must not be empty');
    assert.ok(events.length > 0 && events.length <= sqliteEventStoreLimits.appendEventsMax, 'append 1 to appendEventsMax events');
    const expected = options.expectedRevision;
    assert.ok(
      expected === 'any' || expected === 'no_stream' || (Number.isSafeInteger(expected) && expected >= 0),
      'expected revision',
    );
    if (this.#workerFailure !== undefined) return Promise.reject(this.#unavailable(this.#workerFailure));
    const append: SerializedAppend = {
      stream,
      expectedRevision: expected,
      events: events.map((e) => ({ id: e.id, type: e.type, data: JSON.stringify(e.data), metadata: JSON.stringify(e.metadata) })),
    };
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ append, resolve, reject });
      this.#scheduleDispatch();
    });
  }

  /** Gathers the appends of this turn of the event loop, unless a group is already in flight (then they wait for it). */
  #scheduleDispatch(): void {
    if (this.#dispatchScheduled || this.#inFlight !== undefined) return;
    this.#dispatchScheduled = true;
    setImmediate(() => {
      this.#dispatchScheduled = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.#inFlight !== undefined || this.#pending.length === 0) return;
    const group = this.#pending.splice(0, sqliteEventStoreLimits.groupCommitAppendsMax);
    const id = this.#nextGroupId++;
    this.#inFlight = { id, group };
    const appends = group.map((p) => p.append);
    if (this.#commitInline !== undefined) {
      this.#settle(id, this.#commitInline(appends, new Date().toISOString()));
      return;
    }
    const request: WriterRequest = { type: 'group', id, appends };
    this.#worker?.postMessage(request);
  }

  #settle(id: number, outcome: GroupOutcome): void {
    const inFlight = this.#inFlight;
    assert.ok(inFlight !== undefined && inFlight.id === id, 'the writer answers the group in flight');
    this.#inFlight = undefined;
    if (outcome.ok) {
      assert.equal(outcome.outcomes.length, inFlight.group.length);
      inFlight.group.forEach((pending, i) => settleOne(pending, outcome.outcomes[i]));
      this.#appended.emit('appended');
    } else {
      const failure = new EventStoreUnavailableError(`embedded event store: commit failed: ${outcome.message}`);
      for (const pending of inFlight.group) pending.reject(failure);
    }
    // Whatever queued up during the commit is the next group: send it at once.
    if (this.#pending.length > 0) this.#dispatch();
    else if (this.#drained !== undefined) this.#drained();
  }

  #unavailable(cause: Error): EventStoreUnavailableError {
    return new EventStoreUnavailableError(`embedded event store: writer thread failed: ${cause.message}`, { cause });
  }

  #failWriter(error: Error): void {
    if (this.#workerFailure !== undefined) return;
    this.#workerFailure = error;
    const failure = this.#unavailable(error);
    for (const pending of [...(this.#inFlight?.group ?? []), ...this.#pending.splice(0)]) pending.reject(failure);
    this.#inFlight = undefined;
    this.#drained?.();
  }

  /** A read on a closed store: the port's retryable error (a request racing shutdown gets a 503), not a crash. */
  #closedRead(): Promise<never> | undefined {
    return this.#db.open ? undefined : Promise.reject(new EventStoreUnavailableError('embedded event store is closed'));
  }

  readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const closed = this.#closedRead();
    if (closed !== undefined) return closed;
    const maxCount = boundedCount(options.maxCount);
    const rows =
      options.direction === 'backwards'
        ? this.#statements.readBackwards.all(stream, options.fromRevision ?? Number.MAX_SAFE_INTEGER, maxCount)
        : this.#statements.readForwards.all(stream, options.fromRevision ?? 0, maxCount);
    return Promise.resolve(rows.map(toRecorded));
  }

  readEvents(refs: readonly StreamRevision[]): Promise<(RecordedEvent | undefined)[]> {
    checkRefs(refs);
    const closed = this.#closedRead();
    if (closed !== undefined) return closed;
    if (refs.length === 0) return Promise.resolve([]);
    const rows = this.#statements.readEvents.all(JSON.stringify(refs.map((r) => [r.stream, r.revision])));
    const found = new Map<string, RecordedEvent>();
    for (const row of rows) found.set(refKey(row.stream, row.revision), toRecorded(row));
    return Promise.resolve(refs.map((r) => found.get(refKey(r.stream, r.revision))));
  }

  readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const closed = this.#closedRead();
    if (closed !== undefined) return closed;
    return Promise.resolve(this.#readAllSync(options.after ?? -1, boundedCount(options.maxCount)));
  }

  #readAllSync(after: number, maxCount: number): RecordedEvent[] {
    assert.ok(!this.#closed, 'read on a closed event store');
    return this.#statements.readAll.all(after, maxCount).map(toRecorded);
  }

  async *subscribeToAll(options: SubscribeToAllOptions = {}): AsyncGenerator<RecordedEvent, void, undefined> {
    let after = options.after ?? -1;
    const signal = options.signal;
    const stopped = (): boolean => this.#closed || signal?.aborted === true;
    while (!stopped()) {
      const batch = this.#readAllSync(after, sqliteEventStoreLimits.readBatchEventsMax);
      for (const event of batch) {
        yield event;
        after = event.position;
        if (stopped()) return;
      }
      if (batch.length === 0) await this.#waitForAppend(signal);
    }
  }

  /**
   * Resolves on the next in-process append, or after the poll interval (appends by other processes).
   * A plain timer, not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: Node 20 may collect a
   * timeout signal held only by an `any()` composite before it fires (nodejs/node#57736), and a
   * subscription fed by another process then waited for the projector's 30 s stall watchdog (seen as
   * 31 s command → consumer outliers of the relay under `npm start`); `any()` on the long-lived
   * subscription signal also kept one composite per poll alive (nodejs/node#48419).
   */
  async #waitForAppend(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return;
    const wait = new AbortController();
    const timer = setTimeout(() => wait.abort(), this.#pollIntervalMs);
    timer.unref(); // as AbortSignal.timeout: a subscription alone does not keep the process alive
    const stop = (): void => wait.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      await once(this.#appended, 'appended', { signal: wait.signal });
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  headPosition(): Promise<number> {
    const closed = this.#closedRead();
    if (closed !== undefined) return closed;
    return Promise.resolve(this.#statements.head.get()?.position ?? -1);
  }

  findEventInStream(stream: string, eventId: string): Promise<RecordedEvent | undefined> {
    const closed = this.#closedRead();
    if (closed !== undefined) return closed;
    const row = this.#statements.findInStream.get(eventId, stream);
    return Promise.resolve(row === undefined ? undefined : toRecorded(row));
  }

  readRecord(key: string): Promise<JsonObject | undefined> {
    checkRecord(key);
    const closed = this.#closedRead();
    if (closed !== undefined) return closed;
    const row = this.#statements.readRecord.get(key);
    return Promise.resolve(row === undefined ? undefined : (JSON.parse(row.value) as JsonObject));
  }

  /**
   * One statement in its own transaction on the reader connection, committed with the log's
   * durability (synchronous=FULL fsyncs it) before the promise resolves. Records are written rarely
   * (a snapshot every N events, a relay checkpoint per confirmed batch), so they skip the group commit;
   * with a writer thread the statement waits (busy timeout) for a commit in flight.
   */
  writeRecord(key: string, value: JsonObject): Promise<void> {
    const text = checkRecord(key, value);
    if (this.#closing) return Promise.reject(new EventStoreUnavailableError('embedded event store is closing'));
    try {
      this.#statements.writeRecord.run(key, text);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY')
        return Promise.reject(new EventStoreUnavailableError('embedded event store is busy', { cause: error }));
      throw error;
    }
    return Promise.resolve();
  }

  /** Commits everything already queued, stops the writer thread, then closes the file (every caller waits for all of it). */
  close(): Promise<void> {
    this.#closeDone ??= this.#close();
    return this.#closeDone;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#pending.length > 0 || this.#inFlight !== undefined) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        this.#dispatch();
      });
    }
    if (this.#worker !== undefined && this.#workerFailure === undefined) {
      await this.#workerReady?.catch(() => undefined);
      const exited = once(this.#worker, 'exit');
      this.#closed = true;
      const request: WriterRequest = { type: 'close' };
      this.#worker.postMessage(request);
      await exited;
    }
    if (this.#checkpointer !== undefined) {
      const stopped = once(this.#checkpointer, 'exit');
      this.#checkpointer.ref(); // keep the process alive until it has let go of the file
      this.#checkpointer.postMessage('stop');
      await stopped;
    }
    this.#closed = true;
    this.#appended.emit('appended');
    this.#db.close();
  }
}

const settleOne = (pending: PendingAppend, outcome: AppendOutcome | undefined): void => {
  assert.ok(outcome !== undefined, 'one outcome per append');
  if (outcome.ok) return pending.resolve(outcome.result);
  const error = outcome.error;
  pending.reject(
    error.type === 'stream_revision_conflict'
      ? new StreamRevisionConflictError(error.stream, error.expectedRevision, error.actualRevision)
      : new EventIdConflictError(error.stream, error.eventId, error.reason),
  );
};

const refKey = (stream: string, revision: number): string => `${revision}\n${stream}`;

const checkRefs = (refs: readonly StreamRevision[]): void => {
  assert.ok(refs.length <= readEventsMax, 'read at most readEventsMax events at once');
  for (const r of refs) assert.ok(Number.isSafeInteger(r.revision) && r.revision >= 0, 'a revision is a non-negative integer');
};

const boundedCount = (maxCount: number | undefined): number => {
  const count = maxCount ?? sqliteEventStoreLimits.readBatchEventsMax;
  assert.ok(Number.isSafeInteger(count) && count > 0, 'maxCount must be a positive integer');
  return Math.min(count, sqliteEventStoreLimits.readBatchEventsMax);
};

const toRecorded = (row: EventRow): RecordedEvent => ({
  id: row.event_id,
  type: row.type,
  data: JSON.parse(row.data) as RecordedEvent['data'],
  metadata: JSON.parse(row.metadata) as RecordedEvent['metadata'],
  stream: row.stream,
  revision: row.revision,
  position: row.position,
  recordedAt: row.recorded_at,
});
