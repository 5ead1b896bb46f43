import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

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
  /**
   * WAL pages (4 KiB) after which a commit checkpoints by itself: the backstop behind the background
   * checkpointer (which keeps the WAL far smaller), and the only checkpointing when it is off.
   */
  walAutocheckpointPages: 16_384,
  /** How often the background checkpointer copies the WAL into the database file. */
  checkpointIntervalMs: 200,
  /** The background checkpointer leaves a WAL smaller than this alone. */
  checkpointWalBytesMin: 16 * 1024 * 1024,
} as const;

export type Durability = 'full' | 'normal';

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
-- Side records (snapshots, checkpoints): kept with the log and committed like it, never part of it.
CREATE TABLE IF NOT EXISTS records (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/**
 * Opens (and if needed creates) an events database with the store's schema and settings. Used by the
 * store's reader, its writer thread, and the benchmark's raw-insert baseline, so all three run on
 * exactly the same table, indexes and pragmas.
 */
export const openEventsDatabase = (path: string, durability: Durability): Database.Database => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: sqliteEventStoreLimits.busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  // FULL: the WAL is fsynced at every commit, so an acknowledged append survives power loss.
  db.pragma(`synchronous = ${durability === 'normal' ? 'NORMAL' : 'FULL'}`);
  // Checkpoint every ~64 MB of WAL rather than SQLite's default 4 MB: checkpoints run inside a
  // committing transaction, and doing them 16 times less often is most of a group commit's cost.
  db.pragma(`wal_autocheckpoint = ${sqliteEventStoreLimits.walAutocheckpointPages}`);
  db.exec(schema);
  return db;
};

export interface EventRow {
  position: number;
  stream: string;
  revision: number;
  event_id: string;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
}
