import assert from 'node:assert/strict';
import { parentPort, workerData } from 'node:worker_threads';
import { createGroupWriter, type SerializedAppend } from './groupWriter.js';
import { openEventsDatabase, type Durability } from './sqliteSchema.js';

/**
 * The embedded store's writer thread. It owns the only write connection of this process and
 * commits one group at a time, so the fsync of a commit blocks this thread, never the event loop
 * that parses requests and decides the next group.
 */
export type WriterRequest =
  { readonly type: 'group'; readonly id: number; readonly appends: readonly SerializedAppend[] } | { readonly type: 'close' };

const port = parentPort;
assert.ok(port !== null, 'runs as a worker thread');
const { path, durability } = workerData as { path: string; durability: Durability };
const db = openEventsDatabase(path, durability);
const commit = createGroupWriter(db);

port.on('message', (request: WriterRequest) => {
  if (request.type === 'close') {
    db.close();
    port.close();
    return;
  }
  port.postMessage({ id: request.id, outcome: commit(request.appends, new Date().toISOString()) });
});
port.postMessage({ ready: true });
