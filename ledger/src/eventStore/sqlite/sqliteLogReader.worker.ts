import assert from 'node:assert/strict';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { decodeAccountEvent } from '../../accounts/accountEvent.js';
import { accountStreamPrefix } from '../../accounts/events.js';
import type { RecordedEvent } from '../eventStore.js';
import { sqliteEventStoreLimits, toRecorded, type EventRow } from './sqliteSchema.js';

/**
 * A reader thread of the embedded store's bulk read (sqliteBulkReader.ts). It answers one range of
 * positions at a time with the events in it, read on its own read-only connection and decoded here:
 * each account event is validated (`decodeAccountEvent`, the one decoder) and posted with its
 * validated data in place of the stored data, so the thread that folds them neither parses nor
 * validates. A corrupt event is answered with the decoder's error, which ends the bulk read.
 */
export type ReaderRequest = { readonly id: number; readonly after: number; readonly until: number };
export type ReaderAnswer =
  { readonly id: number; readonly events: RecordedEvent[] } | { readonly id: number; readonly error: string };

const port = parentPort;
assert.ok(port !== null, 'runs as a worker thread');
const { path } = workerData as { path: string };
const db = new Database(path, { readonly: true, timeout: sqliteEventStoreLimits.busyTimeoutMs });
const range = db.prepare<[number, number], EventRow>(
  'SELECT * FROM events WHERE position > ? AND position <= ? ORDER BY position',
);

const read = (after: number, until: number): RecordedEvent[] =>
  range.all(after, until).map((row) => {
    const recorded = toRecorded(row);
    if (!recorded.stream.startsWith(accountStreamPrefix)) return recorded;
    return { ...recorded, data: decodeAccountEvent(recorded).event.data };
  });

port.on('message', ({ id, after, until }: ReaderRequest) => {
  let answer: ReaderAnswer;
  try {
    answer = { id, events: read(after, until) };
  } catch (error) {
    answer = { id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(answer);
});
