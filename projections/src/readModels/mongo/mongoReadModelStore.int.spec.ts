import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ReadModelStoreUnavailableError } from '../errors.js';
import { runReadModelStoreContract } from '../readModelStore.contract.js';
import type { ReadModelDatabase } from '../readModelStore.js';
import { CollectionDatabaseConflictError, MongoReadModelStore } from './mongoReadModelStore.js';

/**
 * The read-model store contract against a real MongoDB server. No server can run on the development
 * machines, so this runs only where MONGODB_URL points at one (docker-compose.dev.yml publishes it on the loopback).
 */
const url = process.env.MONGODB_URL;

const databases: readonly ReadModelDatabase[] = ['user_service', 'gig_service', 'clan_service', 'ledger'];

if (url === undefined || url === '') {
  const line = '='.repeat(92);
  process.stderr.write(
    `\n${line}\n  SKIPPED: MongoDB read-model store contract suite — set MONGODB_URL='mongodb://dev:dev@127.0.0.1:27017/?authSource=admin' to run it (docker-compose.dev.yml)\n${line}\n\n`,
  );
  describe.skip('read-model store contract: MongoDB (SKIPPED: MONGODB_URL is not set)', () => undefined);
} else {
  // One prefix per test: the server is shared and keeps the databases of earlier runs until dropped.
  runReadModelStoreContract('MongoDB', async () => {
    const databasePrefix = `t${randomUUID().replaceAll('-', '').slice(0, 8)}_`;
    const store = await MongoReadModelStore.connect(url, { databasePrefix });
    const cleanup = async (): Promise<void> => {
      await store.close();
      const client = new MongoClient(url);
      try {
        for (const database of databases) await client.db(databasePrefix + database).dropDatabase();
      } finally {
        await client.close();
      }
    };
    return { store, cleanup };
  });

  describe('MongoDB read-model store: a collection lives in one database', () => {
    it('refuses to ensure a collection again with another database, and writes still reach the first', async () => {
      const databasePrefix = `t${randomUUID().replaceAll('-', '').slice(0, 8)}_`;
      const store = await MongoReadModelStore.connect(url, { databasePrefix });
      const other = await MongoReadModelStore.connect(url, { databasePrefix });
      try {
        await store.ensureCollection({ name: 'ranking', database: 'gig_service', indexes: [] });
        for (const process of [store, other]) {
          await expect(
            process.ensureCollection({ name: 'ranking', database: 'user_service', indexes: [] }),
          ).rejects.toBeInstanceOf(CollectionDatabaseConflictError);
        }
        await store.commit([{ op: 'put', collection: 'ranking', id: 'g1', doc: { score: 1 }, position: 1 }]);
        expect(await other.get('ranking', 'g1')).toMatchObject({ score: 1 });
      } finally {
        await store.close();
        await other.close();
        const client = new MongoClient(url);
        try {
          for (const database of databases) await client.db(databasePrefix + database).dropDatabase();
        } finally {
          await client.close();
        }
      }
    });
  });
}

// Runs everywhere: no server is needed to check how the adapter reports the absence of one.
describe('MongoDB read-model store without a server', () => {
  const unreachable = 'mongodb://127.0.0.1:1/';

  it('reports an unreachable server as ReadModelStoreUnavailableError on every operation, again and again', async () => {
    const store = MongoReadModelStore.fromUrl(unreachable, { serverSelectionTimeoutMS: 500 });
    const started = Date.now();
    const put = { op: 'put', collection: 'ranking', id: 'g1', doc: { score: 1 }, position: 1 } as const;
    await expect(store.checkpoint('p')).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    // The second call tries to connect again rather than reporting the driver's closed topology.
    await expect(store.checkpoint('p')).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    await expect(store.get('ranking', 'g1')).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    await expect(store.commit([put], { name: 'p', position: 1 })).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    await expect(store.commit([], { name: 'p', position: 1 })).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    const error: unknown = await store.find('ranking').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadModelStoreUnavailableError);
    expect((error as Error).name).toBe('ReadModelStoreUnavailableError');
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(15_000);
    await store.close();
  });

  it('rejects connect with ReadModelStoreUnavailableError, the URL setting the timeout', async () => {
    await expect(
      MongoReadModelStore.connect(`${unreachable}?serverSelectionTimeoutMS=500`, { databasePrefix: 't_' }),
    ).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
  });

  it('rejects names and fields MongoDB would misread before any I/O', async () => {
    const store = MongoReadModelStore.fromUrl(unreachable, { serverSelectionTimeoutMS: 500 });
    await expect(store.find('ranking', { where: { $where: 'sleep(1)' } })).rejects.toBeInstanceOf(TypeError);
    await expect(store.find('ranking', { orderBy: [['score', -1]], after: [1, 'x'] })).rejects.toBeInstanceOf(TypeError);
    await expect(store.ensureCollection({ name: 'checkpoints', database: 'ledger', indexes: [] })).rejects.toBeInstanceOf(
      TypeError,
    );
    const write = { op: 'insert', collection: 'ranking', id: 'e1', doc: { 'a.b': 1 } } as const;
    await expect(store.commit([write])).rejects.toBeInstanceOf(TypeError);
    expect(() => MongoReadModelStore.fromUrl(unreachable, { databasePrefix: 'a.b' })).toThrow(TypeError);
    await store.close();
  });
});
