import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { runHandler, type ProcessOutcome, type ProcessedMessages } from '../processedMessages.js';

export interface SqliteProcessedMessagesOptions {
  /** Table holding the ids (created if absent). Default `processed_messages`. */
  readonly table?: string;
  /** How long a write waits for another connection's lock (SQLite busy_timeout) when the kit opens the file. */
  readonly lockWaitMs?: number;
}

const defaultLockWaitMs = 5_000;
const tableName = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Processed messageIds in a SQLite table, recorded in the same transaction as the handler's writes:
 * the handler receives the better-sqlite3 connection with a transaction open (BEGIN IMMEDIATE) and
 * writes its effects through it; the id is inserted and the whole commits once the handler resolved,
 * or rolls back when it threw. Give it the service's own connection to get this atomicity.
 *
 * One transaction at a time per connection (SQLite has one writer anyway): calls queue up in order.
 * The transaction holds the file's write lock while the handler runs, so a handler should only write
 * to this database, not wait on the network.
 */
export class SqliteProcessedMessages implements ProcessedMessages<Database.Database> {
  readonly db: Database.Database;
  readonly #ownsDb: boolean;
  readonly #has: Database.Statement<[string], { found: 1 }>;
  readonly #insert: Database.Statement<[string, string]>;
  #tail: Promise<unknown> = Promise.resolve();

  /** `database`: a path (the kit opens and closes it) or the service's open connection (the service closes it). */
  constructor(database: string | Database.Database, options: SqliteProcessedMessagesOptions = {}) {
    const table = options.table ?? 'processed_messages';
    assert.ok(tableName.test(table), `table must match ${String(tableName)}`);
    this.#ownsDb = typeof database === 'string';
    if (typeof database === 'string') {
      this.db = new Database(database);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`busy_timeout = ${options.lockWaitMs ?? defaultLockWaitMs}`);
    } else {
      this.db = database;
    }
    this.db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (message_id TEXT PRIMARY KEY, processed_at TEXT NOT NULL) WITHOUT ROWID`);
    this.#has = this.db.prepare(`SELECT 1 AS found FROM "${table}" WHERE message_id = ?`);
    this.#insert = this.db.prepare(`INSERT INTO "${table}" (message_id, processed_at) VALUES (?, ?)`);
  }

  has(messageId: string): Promise<boolean> {
    return Promise.resolve(this.#has.get(messageId) !== undefined);
  }

  processOnce(messageId: string, handle: (tx: Database.Database) => Promise<void>): Promise<ProcessOutcome> {
    const run = async (): Promise<ProcessOutcome> => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        if (this.#has.get(messageId) !== undefined) {
          this.db.exec('ROLLBACK');
          return 'duplicate';
        }
        await runHandler(handle, this.db);
        this.#insert.run(messageId, new Date().toISOString());
        this.db.exec('COMMIT');
        return 'processed';
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    };
    const result = this.#tail.then(run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.#tail;
    if (this.#ownsDb && this.db.open) this.db.close();
  }
}
