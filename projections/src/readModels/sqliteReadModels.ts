import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * The embedded read-model database: one SQLite file beside the event store. Read models are derived
 * data, so commits are not fsynced one by one (synchronous=NORMAL): after a power loss the file rolls
 * back to an earlier consistent state — documents and checkpoints together — and the projectors
 * replay the rest from the log. A read model's writes and its checkpoint share one transaction, so
 * a crash anywhere repeats nothing and loses nothing.
 */
export class SqliteReadModels {
  readonly db: Database.Database;
  readonly #getCheckpoint: Database.Statement<[string], { position: number }>;
  readonly #setCheckpoint: Database.Statement<[string, number, string]>;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS checkpoints (
        name       TEXT PRIMARY KEY,
        position   INTEGER NOT NULL,
        updated_at TEXT NOT NULL
      );
    `);
    this.#getCheckpoint = this.db.prepare('SELECT position FROM checkpoints WHERE name = ?');
    this.#setCheckpoint = this.db.prepare(
      'INSERT INTO checkpoints (name, position, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at',
    );
  }

  checkpoint(name: string): number {
    return this.#getCheckpoint.get(name)?.position ?? -1;
  }

  /** Call inside the transaction that applied the batch. */
  saveCheckpoint(name: string, position: number): void {
    this.#setCheckpoint.run(name, position, new Date().toISOString());
  }

  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  close(): void {
    this.db.close();
  }
}
