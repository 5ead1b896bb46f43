import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { EventIdConflictError, EventStoreUnavailableError, StreamRevisionConflictError } from '../errors.js';
import type {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeToAllOptions,
} from '../eventStore.js';

/** Limits of the embedded engine, in one place. */
export const sqliteEventStoreLimits = {
  /** Largest batch one read returns. */
  readBatchEventsMax: 1000,
  /** Most appends committed by one transaction (group commit); the rest wait for the next. */
  groupCommitAppendsMax: 2000,
  /** Most events in one append call. */
  appendEventsMax: 1000,
  /** How long a subscription waits before re-checking the file for appends by other processes. */
  pollIntervalMs: 25,
  /** How long a writer waits for another process's write lock before giving up. */
  busyTimeoutMs: 5000,
  /** WAL pages (4 KiB) between automatic checkpoints. */
  walAutocheckpointPages: 16_384,
} as const;

export interface SqliteEventStoreOptions {
  /** Path of the database file; `:memory:` for a throwaway store. */
  readonly path: string;
  /**
   * `full` (default) fsyncs the WAL on every commit: an acknowledged append survives power loss.
   * `normal` survives a process crash but may lose the last commits on power loss; tests only.
   */
  readonly durability?: 'full' | 'normal';
  readonly pollIntervalMs?: number;
}

interface PendingAppend {
  readonly stream: string;
  readonly events: readonly EventToAppend[];
  readonly expectedRevision: ExpectedRevision;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface EventRow {
  position: number;
  stream: string;
  revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
}

const schema = `
CREATE TABLE IF NOT EXISTS events (
  position    INTEGER PRIMARY KEY,
  stream      TEXT    NOT NULL,
  revision    INTEGER NOT NULL CHECK (revision >= 0),
  event_id    TEXT    NOT NULL UNIQUE,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at TEXT    NOT NULL,
  UNIQUE (stream, revision)
);
`;

/**
 * Opens (and if needed creates) an events database with the store's schema and settings. Exported so
 * the benchmark's raw-insert baseline runs on exactly the same table, indexes and pragmas.
 */
export const openEventsDatabase = (path: string, durability: 'full' | 'normal'): Database.Database => {
  const db = new Database(path, { timeout: sqliteEventStoreLimits.busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'normal' ? 'NORMAL' : 'FULL'}`);
  // Checkpoint every ~64 MB of WAL rather than SQLite's default 4 MB: checkpoints run inside a
  // committing transaction, and doing them 16 times less often is most of a group commit's cost.
  db.pragma(`wal_autocheckpoint = ${sqliteEventStoreLimits.walAutocheckpointPages}`);
  db.exec(schema);
  return db;
};

/**
 * The embedded engine: one SQLite file in WAL mode, one global order (the rowid), unique
 * (stream, revision) and unique event id.
 *
 * Group commit: appends queue up during one turn of the event loop and are written by a single
 * transaction in the next (setImmediate), so N concurrent commands pay for one fsync, not N. Each
 * append in the group is checked and applied on its own; one conflict fails only its own caller.
 * better-sqlite3 is synchronous, so a transaction never interleaves with other JavaScript.
 */
export class SqliteEventStore implements EventStore {
  readonly engine = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #pollIntervalMs: number;
  readonly #appended = new EventEmitter();
  #pending: PendingAppend[] = [];
  #flushScheduled = false;
  #closed = false;

  readonly #statements: {
    streamRevision: Database.Statement<[string], { revision: number | null }>;
    eventById: Database.Statement<[string], { stream: string; revision: number; position: number }>;
    insert: Database.Statement<[string, number, string, string, string, string, string]>;
    readForwards: Database.Statement<[string, number, number], EventRow>;
    readBackwards: Database.Statement<[string, number, number], EventRow>;
    readAll: Database.Statement<[number, number], EventRow>;
    head: Database.Statement<[], { position: number | null }>;
    findInStream: Database.Statement<[string, string], EventRow>;
  };

  constructor(options: SqliteEventStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = openEventsDatabase(options.path, options.durability ?? 'full');
    this.#pollIntervalMs = options.pollIntervalMs ?? sqliteEventStoreLimits.pollIntervalMs;
    this.#appended.setMaxListeners(0);
    this.#statements = {
      streamRevision: this.#db.prepare('SELECT MAX(revision) AS revision FROM events WHERE stream = ?'),
      eventById: this.#db.prepare('SELECT stream, revision, position FROM events WHERE event_id = ?'),
      insert: this.#db.prepare(
        'INSERT INTO events (stream, revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      readForwards: this.#db.prepare('SELECT * FROM events WHERE stream = ? AND revision >= ? ORDER BY revision ASC LIMIT ?'),
      readBackwards: this.#db.prepare('SELECT * FROM events WHERE stream = ? AND revision <= ? ORDER BY revision DESC LIMIT ?'),
      readAll: this.#db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position ASC LIMIT ?'),
      head: this.#db.prepare('SELECT MAX(position) AS position FROM events'),
      findInStream: this.#db.prepare('SELECT * FROM events WHERE event_id = ? AND stream = ?'),
    };
  }

  append(
    stream: string,
    events: readonly EventToAppend[],
    options: { expectedRevision: ExpectedRevision },
  ): Promise<AppendResult> {
    assert.ok(!this.#closed, 'append on a closed event store');
    assert.ok(stream.length > 0, 'stream name must not be empty');
    assert.ok(events.length > 0 && events.length <= sqliteEventStoreLimits.appendEventsMax, 'append 1 to appendEventsMax events');
    const expected = options.expectedRevision;
    assert.ok(
      expected === 'any' || expected === 'no_stream' || (Number.isSafeInteger(expected) && expected >= 0),
      'expected revision',
    );
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.push({ stream, events, expectedRevision: expected, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const group = this.#pending.splice(0, sqliteEventStoreLimits.groupCommitAppendsMax);
    if (this.#pending.length > 0) this.#scheduleFlush();
    if (group.length === 0) return;

    const outcomes: ({ ok: true; result: AppendResult } | { ok: false; error: unknown })[] = [];
    const recordedAt = new Date().toISOString();
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        for (const append of group) {
          try {
            outcomes.push({ ok: true, result: this.#applyOne(append, recordedAt) });
          } catch (error) {
            if (!(error instanceof StreamRevisionConflictError || error instanceof EventIdConflictError)) throw error;
            outcomes.push({ ok: false, error });
          }
        }
        this.#db.exec('COMMIT');
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      const failure = new EventStoreUnavailableError(`embedded event store: commit failed: ${(error as Error).message}`, {
        cause: error,
      });
      for (const append of group) append.reject(failure);
      return;
    }
    for (let i = 0; i < group.length; i++) {
      const outcome = outcomes[i];
      const append = group[i];
      assert.ok(outcome !== undefined && append !== undefined);
      if (outcome.ok) append.resolve(outcome.result);
      else append.reject(outcome.error);
    }
    this.#appended.emit('appended');
  }

  /**
   * Checks and writes one append inside the group's transaction; the statements see the group's
   * earlier writes. Throws conflicts before writing anything, so a failed append leaves no rows.
   */
  #applyOne(append: PendingAppend, recordedAt: string): AppendResult {
    const { stream, events, expectedRevision } = append;

    // Idempotency first: a retried append must be recognised even if its expected revision is stale.
    let existing: { stream: string; revision: number; position: number } | undefined;
    let existingCount = 0;
    for (const event of events) {
      const found = this.#statements.eventById.get(event.id);
      if (found === undefined) continue;
      if (found.stream !== stream) throw new EventIdConflictError(stream, event.id, `already exists in stream ${found.stream}`);
      existingCount++;
      if (existing === undefined || found.position > existing.position) existing = found;
    }
    if (existingCount > 0) {
      if (existingCount !== events.length) {
        throw new EventIdConflictError(stream, events[0]?.id ?? '', 'batch mixes new and already-appended event ids');
      }
      assert.ok(existing !== undefined);
      return { nextExpectedRevision: existing.revision, position: existing.position, idempotent: true };
    }
    const seen = new Set<string>();
    for (const event of events) {
      if (seen.has(event.id)) throw new EventIdConflictError(stream, event.id, 'appears twice in one append');
      seen.add(event.id);
    }

    const current = this.#statements.streamRevision.get(stream)?.revision ?? -1;
    const matches =
      expectedRevision === 'any' ||
      (expectedRevision === 'no_stream' && current === -1) ||
      (typeof expectedRevision === 'number' && expectedRevision === current);
    if (!matches) throw new StreamRevisionConflictError(stream, expectedRevision, current);

    let revision = current;
    let position = -1;
    for (const event of events) {
      revision++;
      const info = this.#statements.insert.run(
        stream,
        revision,
        event.id,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        recordedAt,
      );
      position = Number(info.lastInsertRowid);
    }
    return { nextExpectedRevision: revision, position, idempotent: false };
  }

  readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const maxCount = boundedCount(options.maxCount);
    const rows =
      options.direction === 'backwards'
        ? this.#statements.readBackwards.all(stream, options.fromRevision ?? Number.MAX_SAFE_INTEGER, maxCount)
        : this.#statements.readForwards.all(stream, options.fromRevision ?? 0, maxCount);
    return Promise.resolve(rows.map(toRecorded));
  }

  readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
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

  /** Resolves on the next in-process append, or after the poll interval (appends by other processes). */
  async #waitForAppend(signal: AbortSignal | undefined): Promise<void> {
    const timeout = AbortSignal.timeout(this.#pollIntervalMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      await once(this.#appended, 'appended', { signal: combined });
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  }

  headPosition(): Promise<number> {
    return Promise.resolve(this.#statements.head.get()?.position ?? -1);
  }

  findEventInStream(stream: string, eventId: string): Promise<RecordedEvent | undefined> {
    const row = this.#statements.findInStream.get(eventId, stream);
    return Promise.resolve(row === undefined ? undefined : toRecorded(row));
  }

  /** Flushes queued appends, then closes the file. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    while (this.#pending.length > 0) this.#flush();
    this.#closed = true;
    this.#appended.emit('appended');
    this.#db.close();
    return Promise.resolve();
  }
}

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
