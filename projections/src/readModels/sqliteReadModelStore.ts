// Over 400 lines on purpose: the whole SQLite adapter of the read-model port in one class (versions,
// guarded writes, keyset queries and checkpoints share its prepared statements and lock handling).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  readModelStoreLimits,
  type CollectionSpec,
  type Condition,
  type Query,
  type ReadModelStore,
  type Scalar,
  type StoredDoc,
  type Where,
  type Write,
} from './readModelStore.js';
import { ReadModelStoreUnavailableError } from './errors.js';

export const sqliteReadModelStoreLimits = {
  /**
   * How long a write waits for another connection's write lock (a rebuild's commit or index build in
   * another process) before failing with ReadModelStoreUnavailableError. SQLite waits by sleeping in
   * the calling thread, so the server, whose projectors must not hold up its event loop, waits only
   * `serverLockWaitMs` and retries later with backoff; tools and builders can afford to wait.
   */
  lockWaitMs: 5000,
  serverLockWaitMs: 10,
} as const;

const namePattern = /^[a-z][a-z0-9_]{0,99}$/;
const fieldPattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const checkName = (name: string): string => {
  if (!namePattern.test(name)) throw new TypeError(`invalid collection name ${JSON.stringify(name)}`);
  return name;
};

/** The SQL expression for a document field: `_id` is the key column, others live in the JSON. */
const fieldSql = (field: string): string => {
  if (field === '_id') return 'id';
  if (!fieldPattern.test(field)) throw new TypeError(`invalid field name ${JSON.stringify(field)}`);
  return `json_extract(doc, '$.${field}')`;
};

/** SQLite has no booleans: JSON true/false come out of json_extract as 1/0. */
const bindable = (value: Scalar): string | number | null => (typeof value === 'boolean' ? (value ? 1 : 0) : value);

interface Row {
  id: string;
  position: number | null;
  doc: string;
}

const toStored = (row: Row): StoredDoc => {
  const doc = JSON.parse(row.doc) as Record<string, unknown>;
  return row.position === null ? { ...doc, _id: row.id } : { ...doc, _id: row.id, _position: row.position };
};

/**
 * The embedded read-model store: one SQLite file for every service's read models (the `database` of
 * a collection is only a label here). A collection is a table `(id, position, doc JSON)` without
 * rowid, and each index is an index on json_extract expressions, which the queries use as written.
 *
 * Read models are derived data, so commits are not fsynced one by one (synchronous=NORMAL): after a
 * power loss the file rolls back to an earlier consistent state — documents and checkpoints together
 * — and the projectors replay the rest from the log. A commit is one transaction.
 */
export class SqliteReadModelStore implements ReadModelStore {
  readonly engine = 'sqlite';
  readonly db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #known = new Set<string>();
  readonly #writeStatements = new Map<string, Database.Statement>();

  constructor(path: string, options: { readonly lockWaitMs?: number } = {}) {
    mkdirSync(dirname(path), { recursive: true });
    // SQLite waits for another connection's write lock by sleeping in the calling thread.
    this.db = new Database(path, { timeout: options.lockWaitMs ?? sqliteReadModelStoreLimits.lockWaitMs });
    // 16 KiB pages (a new file only; an existing one keeps its size): ~30 % faster row inserts here
    // than the 4 KiB default, which is what rebuilds spend their time on.
    this.db.pragma('page_size = 16384');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('cache_size = -65536'); // 64 MiB: documents a batch touches stay in memory
    this.db.pragma('wal_autocheckpoint = 16384');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS read_model_versions (family TEXT PRIMARY KEY, active INTEGER NOT NULL, switched_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, database TEXT NOT NULL);
    `);
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Whether the collection exists (another process may have created it since). */
  #exists(name: string): boolean {
    if (this.#known.has(name)) return true;
    const found = this.#statement('SELECT 1 FROM collections WHERE name = ?').get(name) !== undefined;
    if (found) this.#known.add(name);
    return found;
  }

  /**
   * Runs `work` as one write transaction. It begins IMMEDIATE, taking the write lock before it reads:
   * a transaction that read first would get SQLITE_BUSY at once when it tried to write, without
   * waiting `lockWaitMs`. A lock held by another connection for longer than that becomes a retryable
   * ReadModelStoreUnavailableError.
   */
  #transaction(work: () => void): void {
    try {
      this.db.transaction(work).immediate();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // Extended codes too (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE, …).
      if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
        throw new ReadModelStoreUnavailableError(
          'read-model file is locked by another writer (a rebuild in another process?); retry later',
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Runs a read of one collection. A collection this connection knew may have been dropped by
   * another one since (a rebuild in another process letting an old version go, after its grace):
   * that is a retryable ReadModelStoreUnavailableError — the next request reads the version readers
   * use now — not a crash.
   */
  #read<T>(table: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (!String((error as Error).message).startsWith('no such table')) throw error;
      this.#forget(table);
      throw new ReadModelStoreUnavailableError(
        `read-model collection ${table} was dropped (a rebuild switched versions); retry`,
        {
          cause: error,
        },
      );
    }
  }

  async ensureCollection(spec: CollectionSpec): Promise<void> {
    const table = checkName(spec.name);
    this.#transaction(() => {
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS "${table}" (id TEXT PRIMARY KEY, position INTEGER, doc TEXT NOT NULL) WITHOUT ROWID`,
      );
      spec.indexes.forEach((fields, i) => {
        const columns = fields.map(([field, direction]) => `${fieldSql(field)} ${direction === 1 ? 'ASC' : 'DESC'}`);
        const name = `${table}__i${i}`;
        const sql = `CREATE INDEX "${name}" ON "${table}" (${columns.join(', ')})`;
        // An index whose definition changed since it was created (a new version of the code) is
        // rebuilt: an index matched by name alone would keep serving the old definition.
        const existing = this.#statement("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) as
          { sql: string } | undefined;
        if (existing?.sql === sql) return;
        if (existing !== undefined) this.db.exec(`DROP INDEX "${name}"`);
        this.db.exec(sql);
      });
      this.#statement('INSERT OR IGNORE INTO collections (name, database) VALUES (?, ?)').run(table, spec.database);
    });
    this.#known.add(table);
  }

  async dropCollection(name: string): Promise<void> {
    const table = checkName(name);
    this.#transaction(() => {
      this.db.exec(`DROP TABLE IF EXISTS "${table}"`);
      this.#statement('DELETE FROM collections WHERE name = ?').run(table);
    });
    this.#forget(table);
  }

  /** Forgets a table that is gone: statements prepared against it are invalid now. */
  #forget(table: string): void {
    this.#known.delete(table);
    for (const sql of [...this.#statements.keys()]) if (sql.includes(`"${table}"`)) this.#statements.delete(sql);
    for (const key of [...this.#writeStatements.keys()]) if (key.split(' ')[1] === table) this.#writeStatements.delete(key);
  }

  async listCollections(prefix: string): Promise<string[]> {
    const rows = this.#statement('SELECT name FROM collections WHERE substr(name, 1, ?) = ? ORDER BY name').all(
      prefix.length,
      prefix,
    ) as { name: string }[];
    return rows.map((r) => r.name);
  }

  async checkpoint(name: string): Promise<number> {
    return this.#checkpointNow(name);
  }

  #checkpointNow(name: string): number {
    const row = this.#statement('SELECT position FROM checkpoints WHERE name = ?').get(name) as { position: number } | undefined;
    return row?.position ?? -1;
  }

  /** Points readers of `family` at `version` (inside the caller's transaction). */
  #switchTo(family: string, version: number): void {
    this.#statement(
      `INSERT INTO read_model_versions (family, active, switched_at) VALUES (?, ?, ?)
       ON CONFLICT (family) DO UPDATE SET active = excluded.active, switched_at = excluded.switched_at`,
    ).run(family, version, new Date().toISOString());
  }

  async commit(writes: readonly Write[], checkpoint?: { readonly name: string; readonly position: number }): Promise<void> {
    // Grouped by collection, in order within each (writes to different collections are independent),
    // and each collection's consecutive writes of one kind go in multi-row statements: a row costs
    // about half as much as in a statement of its own.
    const groups = new Map<string, Write[]>();
    for (const write of writes) {
      const group = groups.get(write.collection);
      if (group === undefined) groups.set(write.collection, [write]);
      else group.push(write);
    }
    this.#transaction(() => {
      for (const [collection, group] of groups) {
        for (let from = 0; from < group.length;) {
          const op = (group[from] as Write).op;
          let to = from + 1;
          while (to < group.length && group[to]?.op === op) to++;
          this.#applyRun(op, collection, group, from, to);
          from = to;
        }
      }
      if (checkpoint !== undefined) {
        this.#statement(
          `INSERT INTO checkpoints (name, position, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at
           WHERE excluded.position > checkpoints.position`,
        ).run(checkpoint.name, checkpoint.position, new Date().toISOString());
      }
    });
  }

  /** A prepared multi-row write, looked up by a short key (the SQL itself is long). */
  #writeStatement(op: Write['op'], table: string, rows: number): Database.Statement {
    const key = `${op} ${table} ${rows}`;
    let statement = this.#writeStatements.get(key);
    if (statement === undefined) {
      statement = this.#statement(writeSql(op, table, rows));
      this.#writeStatements.set(key, statement);
    }
    return statement;
  }

  /** Writes `from`..`to` of one kind to one collection, in order, in statements of up to `statementRows[0]` rows. */
  #applyRun(op: Write['op'], collection: string, writes: readonly Write[], from: number, to: number): void {
    const table = checkName(collection);
    if (!this.#exists(table)) throw new Error(`collection ${table} does not exist; ensureCollection first`);
    for (let at = from; at < to;) {
      const rows = statementRows.find((size) => size <= to - at) ?? 1;
      const params: (string | number | null)[] = [];
      for (let i = at; i < at + rows; i++) {
        const write = writes[i] as Write;
        if (write.id.length > readModelStoreLimits.idLengthMax)
          throw new TypeError(`id longer than ${readModelStoreLimits.idLengthMax}`);
        if (write.op === 'put') params.push(write.id, write.position, JSON.stringify(write.doc));
        else if (write.op === 'insert') params.push(write.id, JSON.stringify(write.doc));
        else params.push(write.id);
      }
      this.#writeStatement(op, table, rows).run(params);
      at += rows;
    }
  }

  async get(collection: string, id: string): Promise<StoredDoc | undefined> {
    const table = checkName(collection);
    if (!this.#exists(table)) return undefined;
    const row = this.#read(table, () => this.#statement(`SELECT id, position, doc FROM "${table}" WHERE id = ?`).get(id)) as
      Row | undefined;
    return row === undefined ? undefined : toStored(row);
  }

  async getMany(collection: string, ids: readonly string[]): Promise<Map<string, StoredDoc>> {
    const table = checkName(collection);
    const found = new Map<string, StoredDoc>();
    if (ids.length === 0 || !this.#exists(table)) return found;
    // json_each takes the ids as one parameter, so one statement serves every batch size.
    const rows = this.#read(table, () =>
      this.#statement(`SELECT id, position, doc FROM "${table}" WHERE id IN (SELECT value FROM json_each(?))`).all(
        JSON.stringify(ids),
      ),
    ) as Row[];
    for (const row of rows) found.set(row.id, toStored(row));
    return found;
  }

  async find(collection: string, query: Query = {}): Promise<StoredDoc[]> {
    const table = checkName(collection);
    if (!this.#exists(table)) return [];
    const { sql, params } = selectSql(table, query);
    const rows = this.#read(table, () => this.#statement(sql).all(...params)) as Row[];
    return rows.map(toStored);
  }

  async findEach(collection: string, query: Omit<Query, 'where'>, wheres: readonly Where[]): Promise<StoredDoc[][]> {
    const table = checkName(collection);
    if (!this.#exists(table) || wheres.length === 0) return wheres.map(() => []);
    // In process there is no round trip to save: each condition runs its own prepared statement (the
    // index walk `find` does), all in one read transaction, so every answer sees the same state of the
    // file. One compound statement (UNION ALL of a sub-select per condition) was measured at about a
    // fifth more CPU for a 100-row page: its co-routines copy every row once more.
    const selects = wheres.map((where) => selectSql(table, { ...query, where }));
    const answers = this.#read(table, () =>
      this.db.transaction(() => selects.map(({ sql, params }) => this.#statement(sql).all(...params) as Row[])).deferred(),
    );
    return answers.map((rows) => rows.map(toStored));
  }

  async count(collection: string, where?: Readonly<Record<string, Condition>>): Promise<number> {
    const table = checkName(collection);
    if (!this.#exists(table)) return 0;
    const { clauses, params } = whereSql(where);
    const sql = `SELECT COUNT(*) AS n FROM "${table}"${clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`}`;
    return (this.#read(table, () => this.#statement(sql).get(...params)) as { n: number }).n;
  }

  async activeVersion(family: string): Promise<number | undefined> {
    const row = this.#statement('SELECT active FROM read_model_versions WHERE family = ?').get(family) as
      { active: number } | undefined;
    return row?.active;
  }

  async setActiveVersion(family: string, version: number): Promise<void> {
    this.#transaction(() => this.#switchTo(family, version));
  }

  async switchVersionIfCaughtUp(
    family: string,
    version: number,
    checkpoints: { readonly candidate: string; readonly current: string },
  ): Promise<boolean> {
    let switched = false;
    this.#transaction(() => {
      if (this.#checkpointNow(checkpoints.candidate) < this.#checkpointNow(checkpoints.current)) return;
      this.#switchTo(family, version);
      switched = true;
    });
    return switched;
  }

  async ping(): Promise<void> {
    this.#statement('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Rows per write statement, largest first: a run of n writes takes few statements, each prepared once. */
const statementRows = [50, 10, 1] as const;

const writeSql = (op: Write['op'], table: string, rows: number): string => {
  switch (op) {
    case 'put':
      return `INSERT INTO "${table}" (id, position, doc) VALUES ${Array(rows).fill('(?, ?, ?)').join(', ')}
              ON CONFLICT (id) DO UPDATE SET position = excluded.position, doc = excluded.doc
              WHERE "${table}".position IS NULL OR excluded.position > "${table}".position`;
    case 'insert':
      return `INSERT OR IGNORE INTO "${table}" (id, position, doc) VALUES ${Array(rows).fill('(?, NULL, ?)').join(', ')}`;
    case 'delete':
      return `DELETE FROM "${table}" WHERE id IN (${Array(rows).fill('?').join(', ')})`;
  }
};

/** The SELECT `find` runs for a query on a table, with its parameters (the limit last). */
const selectSql = (table: string, query: Query): { sql: string; params: (string | number | null)[] } => {
  const { clauses, params } = whereSql(query.where);
  const orderBy = query.orderBy ?? [];
  if (query.after !== undefined) {
    if (query.after.length !== orderBy.length) throw new TypeError('a cursor has one value per orderBy field');
    // Keyset: (a, b) after (x, y) in the given directions = a past x, or a = x and b past y.
    const alternatives: string[] = [];
    orderBy.forEach(([field, direction], i) => {
      const equal = orderBy.slice(0, i).map(([f]) => `${fieldSql(f)} = ?`);
      alternatives.push([...equal, `${fieldSql(field)} ${direction === 1 ? '>' : '<'} ?`].join(' AND '));
      for (const value of query.after?.slice(0, i) ?? []) params.push(bindable(value));
      params.push(bindable(query.after?.[i] ?? null));
    });
    clauses.push(`(${alternatives.map((a) => `(${a})`).join(' OR ')})`);
  }
  const order = orderSql(orderBy);
  const limit = Math.min(query.limit ?? readModelStoreLimits.findLimitMax, readModelStoreLimits.findLimitMax);
  if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError('limit must be a non-negative integer');
  const sql = `SELECT id, position, doc FROM "${table}"${clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`}${order === '' ? '' : ` ORDER BY ${order}`} LIMIT ?`;
  return { sql, params: [...params, limit] };
};

const orderSql = (orderBy: NonNullable<Query['orderBy']>): string =>
  orderBy.map(([field, direction]) => `${fieldSql(field)} ${direction === 1 ? 'ASC' : 'DESC'}`).join(', ');

const whereSql = (
  where: Readonly<Record<string, Condition>> | undefined,
): { clauses: string[]; params: (string | number | null)[] } => {
  const clauses: string[] = [];
  const params: (string | number | null)[] = [];
  for (const [field, condition] of Object.entries(where ?? {})) {
    const column = fieldSql(field);
    if (condition === null) clauses.push(`${column} IS NULL`);
    else if (typeof condition !== 'object') {
      clauses.push(`${column} = ?`);
      params.push(bindable(condition));
    } else {
      for (const [op, sql] of [
        ['lt', '<'],
        ['lte', '<='],
        ['gt', '>'],
        ['gte', '>='],
      ] as const) {
        const bound = condition[op];
        if (bound === undefined) continue;
        clauses.push(`${column} ${sql} ?`);
        params.push(bound);
      }
    }
  }
  return { clauses, params };
};
