import type { MongoClient } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { CollectionDatabaseConflictError, MongoReadModelStore } from './mongoReadModelStore.js';

/**
 * `ensureCollection` against a stand-in for the driver's client (no MongoDB runs here; the contract
 * suite covers the real server where MONGODB_URL is set). The stand-in keeps, per database and
 * collection, the indexes created and the registry documents, and answers `findOne` and
 * `findOneAndUpdate` (upsert with `$setOnInsert`, returning the document after) as the driver does.
 */
type Doc = { _id: string; [field: string]: unknown };

const standInServer = () => {
  const indexes = new Map<string, string[]>();
  const documents = new Map<string, Map<string, Doc>>();
  /** Runs once before the next upsert reaches the server (another process interleaving). */
  let beforeUpsert: (() => void) | undefined;
  const collection = (namespace: string) => {
    const docs = documents.get(namespace) ?? new Map<string, Doc>();
    documents.set(namespace, docs);
    return {
      createIndex: (keys: Map<string, number>) => {
        indexes.set(namespace, [...(indexes.get(namespace) ?? []), [...keys.keys()].join(',')]);
        return Promise.resolve('index');
      },
      findOne: (filter: { _id: string }) => Promise.resolve(docs.get(filter._id) ?? null),
      findOneAndUpdate: (filter: { _id: string }, update: { $setOnInsert: Record<string, unknown> }) => {
        const interleaved = beforeUpsert;
        beforeUpsert = undefined;
        interleaved?.();
        if (!docs.has(filter._id)) docs.set(filter._id, { _id: filter._id, ...update.$setOnInsert });
        return Promise.resolve(docs.get(filter._id) ?? null);
      },
    };
  };
  const client = () =>
    ({
      connect: () => Promise.resolve(),
      close: () => Promise.resolve(),
      db: (database: string) => ({ collection: (name: string) => collection(`${database}.${name}`) }),
    }) as unknown as MongoClient;
  return {
    indexes,
    registry: () => documents.get('ledger.collections'),
    /** Registers a collection as another process's completed upsert would. */
    register: (name: string, database: string) =>
      void collection('ledger.collections').findOneAndUpdate({ _id: name }, { $setOnInsert: { database } }),
    setBeforeUpsert: (run: () => void) => (beforeUpsert = run),
    /** One process's store over this server. */
    store: (): MongoReadModelStore =>
      new (MongoReadModelStore as unknown as new (client: MongoClient, prefix: string) => MongoReadModelStore)(client(), ''),
  };
};

const ranking = (database: 'gig_service' | 'user_service') =>
  ({ name: 'ranking', database, indexes: [[['score', -1]]] }) as const;

describe('MongoDB read-model store: a collection lives in one database', () => {
  it('ensures a collection again in the same database as a no-op', async () => {
    const server = standInServer();
    const store = server.store();
    await store.ensureCollection(ranking('gig_service'));
    await store.ensureCollection(ranking('gig_service'));
    expect(server.registry()?.get('ranking')).toEqual({ _id: 'ranking', database: 'gig_service' });
  });

  it('refuses it in another database, in this process and in a fresh one, creating nothing there', async () => {
    const server = standInServer();
    await server.store().ensureCollection(ranking('gig_service'));
    for (const store of [server.store(), server.store()]) {
      const refused = store.ensureCollection(ranking('user_service'));
      await expect(refused).rejects.toBeInstanceOf(CollectionDatabaseConflictError);
      await expect(refused).rejects.toThrow(/ranking lives in database gig_service, not user_service/);
    }
    expect(server.indexes.get('user_service.ranking')).toBeUndefined();
    expect(server.registry()?.get('ranking')).toEqual({ _id: 'ranking', database: 'gig_service' });
  });

  it('refuses it when another process registered the other database in between', async () => {
    const server = standInServer();
    server.setBeforeUpsert(() => server.register('ranking', 'gig_service'));
    await expect(server.store().ensureCollection(ranking('user_service'))).rejects.toBeInstanceOf(
      CollectionDatabaseConflictError,
    );
    expect(server.registry()?.get('ranking')).toEqual({ _id: 'ranking', database: 'gig_service' });
  });
});
