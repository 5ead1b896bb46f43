import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import type { AppendResult, ExpectedRevision } from '../eventStore.js';

/** One append as the writer receives it: data and metadata already serialised by the caller. */
export interface SerializedAppend {
  readonly stream: string;
  readonly expectedRevision: ExpectedRevision;
  readonly events: readonly { readonly id: string; readonly type: string; readonly data: string; readonly metadata: string }[];
}

/** The outcome of one append in a group; errors as plain data so they can cross a thread boundary. */
export type AppendOutcome =
  | { readonly ok: true; readonly result: AppendResult }
  | {
      readonly ok: false;
      readonly error: {
        readonly type: 'stream_revision_conflict';
        readonly stream: string;
        readonly expectedRevision: ExpectedRevision;
        readonly actualRevision: number;
      };
    }
  | {
      readonly ok: false;
      readonly error: {
        readonly type: 'event_id_conflict';
        readonly stream: string;
        readonly eventId: string;
        readonly reason: string;
      };
    };

export type GroupOutcome =
  { readonly ok: true; readonly outcomes: readonly AppendOutcome[] } | { readonly ok: false; readonly message: string };

/** The statements a group writer runs, prepared once per connection. */
interface Statements {
  readonly db: Database.Database;
  readonly streamRevision: Database.Statement<[string], { revision: number | null }>;
  readonly eventById: Database.Statement<[string], { stream: string; revision: number; position: number }>;
  readonly insert: Database.Statement<[string, number, string, string, string, string, string]>;
}

const prepareStatements = (db: Database.Database): Statements => ({
  db,
  streamRevision: db.prepare<[string], { revision: number | null }>(
    'SELECT MAX(revision) AS revision FROM events WHERE stream = ?',
  ),
  eventById: db.prepare<[string], { stream: string; revision: number; position: number }>(
    'SELECT stream, revision, position FROM events WHERE event_id = ?',
  ),
  insert: db.prepare<[string, number, string, string, string, string, string]>(
    'INSERT INTO events (stream, revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ),
});

/**
 * Commits a group of appends in one transaction (one fsync), checking each append on its own: the
 * statements see the group's earlier writes, and a failed check writes nothing for that append, so a
 * conflict fails only its own caller. Pure over the connection it is given, so it runs the same in
 * the writer thread and in tests.
 */
export const createGroupWriter = (
  db: Database.Database,
): ((group: readonly SerializedAppend[], recordedAt: string) => GroupOutcome) => {
  const statements = prepareStatements(db);
  return (group, recordedAt) => {
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        const outcomes = group.map((append) => applyOne(statements, append, recordedAt));
        db.exec('COMMIT');
        return { ok: true, outcomes };
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
  };
};

/**
 * The fast path reads one index entry (the stream's head) and inserts; the unique index on
 * event_id is the idempotency check. Only when the revision does not match, or an id turns out to
 * exist, are the ids looked up to tell an idempotent repeat from a conflict. A multi-event append
 * runs under a savepoint so a failed id leaves none of its events behind.
 */
const applyOne = (statements: Statements, append: SerializedAppend, recordedAt: string): AppendOutcome => {
  const { db } = statements;
  const { stream, events, expectedRevision } = append;
  const duplicate = duplicateIdIn(append);
  if (duplicate !== undefined) return duplicate;
  const current = statements.streamRevision.get(stream)?.revision ?? -1;
  if (!revisionMatches(expectedRevision, current)) {
    return (
      classifyExisting(statements, append) ?? {
        ok: false,
        error: { type: 'stream_revision_conflict', stream, expectedRevision, actualRevision: current },
      }
    );
  }
  const savepoint = events.length > 1;
  if (savepoint) db.exec('SAVEPOINT append');
  try {
    const result = insertAll(statements, append, current, recordedAt);
    if (savepoint) db.exec('RELEASE append');
    return { ok: true, result };
  } catch (error) {
    if (savepoint) db.exec('ROLLBACK TO append; RELEASE append');
    if (!isEventIdViolation(error)) throw error;
    const outcome = classifyExisting(statements, append);
    assert.ok(outcome !== undefined, 'a unique event_id violation means an id exists');
    return outcome;
  }
};

/** An append that names one id twice is refused before anything is read. */
const duplicateIdIn = ({ stream, events }: SerializedAppend): AppendOutcome | undefined => {
  const ids = new Set(events.map((e) => e.id));
  if (ids.size === events.length) return undefined;
  const duplicate = events.find((e, i) => events.findIndex((o) => o.id === e.id) !== i);
  return {
    ok: false,
    error: { type: 'event_id_conflict', stream, eventId: duplicate?.id ?? '', reason: 'appears twice in one append' },
  };
};

const revisionMatches = (expectedRevision: ExpectedRevision, current: number): boolean =>
  expectedRevision === 'any' ||
  (expectedRevision === 'no_stream' && current === -1) ||
  (typeof expectedRevision === 'number' && expectedRevision === current);

/** The slow path: what the ids already in the log say about this append (idempotent repeat or conflict). */
const classifyExisting = (statements: Statements, append: SerializedAppend): AppendOutcome | undefined => {
  const { stream, events } = append;
  let existing: { revision: number; position: number } | undefined;
  let existingCount = 0;
  for (const event of events) {
    const found = statements.eventById.get(event.id);
    if (found === undefined) continue;
    if (found.stream !== stream) {
      return {
        ok: false,
        error: { type: 'event_id_conflict', stream, eventId: event.id, reason: `already exists in stream ${found.stream}` },
      };
    }
    existingCount++;
    if (existing === undefined || found.position > existing.position) existing = found;
  }
  if (existingCount === 0) return undefined;
  if (existingCount !== events.length) {
    return {
      ok: false,
      error: {
        type: 'event_id_conflict',
        stream,
        eventId: events[0]?.id ?? '',
        reason: 'batch mixes new and already-appended event ids',
      },
    };
  }
  assert.ok(existing !== undefined);
  return { ok: true, result: { nextExpectedRevision: existing.revision, position: existing.position, idempotent: true } };
};

const insertAll = (statements: Statements, append: SerializedAppend, current: number, recordedAt: string): AppendResult => {
  let revision = current;
  let position = -1;
  for (const event of append.events) {
    revision++;
    position = Number(
      statements.insert.run(append.stream, revision, event.id, event.type, event.data, event.metadata, recordedAt)
        .lastInsertRowid,
    );
  }
  return { nextExpectedRevision: revision, position, idempotent: false };
};

const isEventIdViolation = (error: unknown): boolean =>
  (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' &&
  String((error as Error).message).includes('events.event_id');
