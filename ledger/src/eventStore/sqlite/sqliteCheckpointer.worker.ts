import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { sqliteEventStoreLimits } from './sqliteSchema.js';

/**
 * Background checkpointing. Copying the WAL back into the database file (and fsyncing it) is the
 * slowest thing SQLite does; left to `wal_autocheckpoint` it happens inside whichever commit crosses
 * the threshold and stalls every request waiting on that group. This thread does it instead, with its
 * own connection and PASSIVE checkpoints, which never block the writer.
 */
const port = parentPort;
assert.ok(port !== null, 'runs as a worker thread');
const { path } = workerData as { path: string };
const db = new Database(path, { timeout: sqliteEventStoreLimits.busyTimeoutMs });
const walPath = `${path}-wal`;
const timer = setInterval(() => {
  try {
    // Fewer, larger checkpoints cost less in total; small WALs are left alone.
    if ((statSync(walPath, { throwIfNoEntry: false })?.size ?? 0) < sqliteEventStoreLimits.checkpointWalBytesMin) return;
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // A busy database skips one round; the next one catches up, and autocheckpoint is the backstop.
  }
}, sqliteEventStoreLimits.checkpointIntervalMs);

port.on('message', () => {
  clearInterval(timer);
  db.close();
  port.close();
});
port.postMessage({ ready: true });
