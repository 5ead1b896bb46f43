import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { ReadModelStoreUnavailableError } from './errors.js';
import { runReadModelStoreContract } from './readModelStore.contract.js';
import { SqliteReadModelStore } from './sqliteReadModelStore.js';

afterAll(removeTempDirs);

runReadModelStoreContract('SQLite', () => {
  const store = new SqliteReadModelStore(join(tempDir(), 'readmodels.db'));
  return Promise.resolve({ store, cleanup: () => store.close() });
});

describe('SQLite read-model store: sharing the file with another process', () => {
  const closers: (() => unknown)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  const open = (lockWaitMs?: number) => {
    const path = join(tempDir(), 'readmodels.db');
    const store = new SqliteReadModelStore(path, lockWaitMs === undefined ? {} : { lockWaitMs });
    closers.push(() => store.close());
    return { path, store };
  };

  /** Another process takes the file's write lock, says so, and keeps it for `holdMs`. */
  const holdLockInAnotherProcess = async (path: string, holdMs: number): Promise<() => Promise<void>> => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(${JSON.stringify(path)});
         db.exec('BEGIN IMMEDIATE'); console.log('locked');
         setTimeout(() => { db.exec('COMMIT'); db.close(); }, ${holdMs});`,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(child.stdout, 'data');
    return async () => {
      if (child.exitCode === null) await once(child, 'exit');
    };
  };

  const spec = { name: 'docs', database: 'ledger', indexes: [[['kind', 1] as const]] } as const;

  it('a write waits for a lock another process holds briefly, even one that reads before it writes', async () => {
    const { path, store } = open(10_000);
    await store.ensureCollection(spec);
    // A second connection has not seen the collection yet: its commit reads the registry first.
    const fresh = new SqliteReadModelStore(path, { lockWaitMs: 10_000 });
    closers.push(() => fresh.close());
    const exited = await holdLockInAnotherProcess(path, 300);
    await fresh.commit([{ op: 'insert', collection: 'docs', id: 'a', doc: { kind: 'x' } }], { name: 'cp', position: 1 });
    await fresh.ensureCollection(spec); // reads sqlite_master and the registry before it writes
    await exited();
    expect(await store.get('docs', 'a')).toMatchObject({ kind: 'x' });
    expect(await store.checkpoint('cp')).toBe(1);
  });

  it('a lock held longer than lockWaitMs is a retryable ReadModelStoreUnavailableError, and nothing is written', async () => {
    const { path, store } = open(10);
    await store.ensureCollection(spec);
    const other = new Database(path);
    closers.push(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    const commit = store.commit([{ op: 'insert', collection: 'docs', id: 'a', doc: { kind: 'x' } }], { name: 'cp', position: 1 });
    await expect(commit).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    await expect(store.setActiveVersion('family', 2)).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    await expect(store.ensureCollection({ ...spec, name: 'more' })).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    other.exec('COMMIT');
    expect(await store.get('docs', 'a')).toBeUndefined();
    expect(await store.checkpoint('cp')).toBe(-1);
    await store.commit([{ op: 'insert', collection: 'docs', id: 'a', doc: { kind: 'x' } }], { name: 'cp', position: 1 });
    expect(await store.checkpoint('cp')).toBe(1);
  });

  it('a collection another connection dropped is a retryable ReadModelStoreUnavailableError on every read', async () => {
    const { path, store } = open();
    const other = new SqliteReadModelStore(path);
    closers.push(() => other.close());
    for (const read of [
      () => store.get('docs', 'a'),
      () => store.getMany('docs', ['a']),
      () => store.find('docs', { where: { kind: 'x' } }),
      () => store.count('docs'),
    ]) {
      await store.ensureCollection(spec);
      await store.commit([{ op: 'insert', collection: 'docs', id: 'a', doc: { kind: 'x' } }]);
      await read(); // this connection now knows the collection
      await other.dropCollection('docs');
      await expect(read()).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
      // Then forgotten: a missing collection, not an error.
      await read();
    }
  });

  it('an index whose definition changed is rebuilt when the collection is opened again', async () => {
    const { store } = open();
    await store.ensureCollection({
      name: 'log',
      database: 'ledger',
      indexes: [
        [
          ['subjectId', 1],
          ['position', -1],
        ],
      ],
    });
    await store.commit([
      { op: 'insert', collection: 'log', id: '01', doc: { subjectId: 's', position: 1 } },
      { op: 'insert', collection: 'log', id: '02', doc: { subjectId: 's', position: 2 } },
    ]);
    const indexSql = () =>
      (store.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'log__i0'").get() as { sql: string }).sql;
    expect(indexSql()).toContain("json_extract(doc, '$.position') DESC");
    await store.ensureCollection({
      name: 'log',
      database: 'ledger',
      indexes: [
        [
          ['subjectId', 1],
          ['_id', -1],
        ],
      ],
    });
    expect(indexSql()).toContain('id DESC');
    expect(indexSql()).not.toContain('position');
    const plan = store.db
      .prepare('EXPLAIN QUERY PLAN SELECT id FROM "log" WHERE json_extract(doc, \'$.subjectId\') = ? ORDER BY id DESC')
      .all('s') as { detail: string }[];
    expect(plan.map((row) => row.detail).join(' ')).not.toContain('TEMP B-TREE');
    expect((await store.find('log', { where: { subjectId: 's' }, orderBy: [['_id', -1]] })).map((d) => d._id)).toEqual([
      '02',
      '01',
    ]);
  });
});
