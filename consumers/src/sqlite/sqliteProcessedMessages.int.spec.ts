import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { runProcessedMessagesContract } from '../processedMessages.contract.js';
import { SqliteProcessedMessages } from './sqliteProcessedMessages.js';

afterAll(removeTempDirs);

runProcessedMessagesContract('SQLite', async () => {
  const path = join(tempDir('consumers-'), 'service.db');
  const store = new SqliteProcessedMessages(path);
  store.db.exec('CREATE TABLE effects (key TEXT PRIMARY KEY)');
  // A second connection sees only what was committed.
  const reader = new Database(path, { readonly: true });
  const reopened: SqliteProcessedMessages[] = [];
  return {
    store,
    reopen: async () => {
      const again = new SqliteProcessedMessages(path);
      reopened.push(again);
      return again;
    },
    effects: {
      write: async (tx, key) => void tx.prepare('INSERT INTO effects (key) VALUES (?)').run(key),
      committed: async (key) => reader.prepare('SELECT 1 FROM effects WHERE key = ?').get(key) !== undefined,
    },
    cleanup: async () => {
      reader.close();
      await store.close();
      for (const again of reopened) await again.close();
    },
  };
});

describe('SQLite processed messages on the service connection', () => {
  it('uses the connection it is given, in a table named by the service, and leaves the connection open', async () => {
    const db = new Database(join(tempDir('consumers-'), 'service.db'));
    const store = new SqliteProcessedMessages(db, { table: 'gig_service_processed' });
    await store.processOnce('m-1', async () => undefined);
    expect(db.prepare('SELECT message_id FROM gig_service_processed').all()).toEqual([{ message_id: 'm-1' }]);
    await store.close();
    expect(db.open).toBe(true);
    db.close();
  });

  it('refuses a table name that is not a plain identifier', () => {
    const db = new Database(':memory:');
    expect(() => new SqliteProcessedMessages(db, { table: 'x"; DROP TABLE y; --' })).toThrow(/table must match/);
    db.close();
  });
});
