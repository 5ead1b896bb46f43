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

/**
 * Commits a group of appends in one transaction (one fsync), checking each append on its own: the
 * statements see the group's earlier writes, and a failed check writes nothing for that append, so a
 * conflict fails only its own caller. Pure over the connection it is given, so it runs the same in
 * the writer thread and in tests.
 */
export const createGroupWriter = (
  db: Database.Database,
): ((group: readonly SerializedAppend[], recordedAt: string) => GroupOutcome) => {
  const streamRevision = db.prepare<[string], { revision: number | null }>(
    'SELECT MAX(revision) AS revision FROM events WHERE stream = ?',
  );
  const eventById = db.prepare<[string], { stream: string; revision: number; position: number }>(
    'SELECT stream, revision, position FROM events WHERE event_id = ?',
  );
  const insert = db.prepare<[string, number, string, string, string, string, string]>(
    'INSERT INTO events (stream, revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );

  const applyOne = (append: SerializedAppend, recordedAt: string): AppendOutcome => {
    const { stream, events, expectedRevision } = append;
    // Idempotency first: a retried append must be recognised even if its expected revision is stale.
    let existing: { revision: number; position: number } | undefined;
    let existingCount = 0;
    for (const event of events) {
      const found = eventById.get(event.id);
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
    if (existingCount > 0) {
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
    }
    const seen = new Set<string>();
    for (const event of events) {
      if (seen.has(event.id))
        return {
          ok: false,
          error: { type: 'event_id_conflict', stream, eventId: event.id, reason: 'appears twice in one append' },
        };
      seen.add(event.id);
    }

    const current = streamRevision.get(stream)?.revision ?? -1;
    const matches =
      expectedRevision === 'any' ||
      (expectedRevision === 'no_stream' && current === -1) ||
      (typeof expectedRevision === 'number' && expectedRevision === current);
    if (!matches)
      return { ok: false, error: { type: 'stream_revision_conflict', stream, expectedRevision, actualRevision: current } };

    let revision = current;
    let position = -1;
    for (const event of events) {
      revision++;
      position = Number(
        insert.run(stream, revision, event.id, event.type, event.data, event.metadata, recordedAt).lastInsertRowid,
      );
    }
    return { ok: true, result: { nextExpectedRevision: revision, position, idempotent: false } };
  };

  return (group, recordedAt) => {
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        const outcomes = group.map((append) => applyOne(append, recordedAt));
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
