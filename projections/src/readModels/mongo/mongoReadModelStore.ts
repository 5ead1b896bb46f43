// Over 400 lines on purpose: the whole MongoDB adapter of the read-model port in one class (versions,
// guarded upserts, keyset queries, checkpoints and the registry share its private collections and
// error translation); the contract suite is what keeps it equal to the SQLite adapter.
import {
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type Filter,
  type MongoClientOptions,
} from 'mongodb';
import { ReadModelStoreUnavailableError } from '../errors.js';
import {
  readModelStoreLimits,
  type CollectionSpec,
  type Condition,
  type Query,
  type ReadModelDatabase,
  type ReadModelStore,
  type SortDirection,
  type StoredDoc,
  type Where,
  type Write,
} from '../readModelStore.js';

/** A read-model collection ensured again with another database than the one it lives in. */
export class CollectionDatabaseConflictError extends Error {
  readonly type = 'collection_database_conflict' as const;
  constructor(
    readonly collection: string,
    readonly registeredDatabase: string,
    readonly requestedDatabase: string,
  ) {
    super(
      `collection ${collection} lives in database ${registeredDatabase}, not ${requestedDatabase}: drop it (and rebuild) to move it`,
    );
    this.name = 'CollectionDatabaseConflictError';
  }
}

/** A stored document: the port's document under a string `_id`, plus `_position` when written by a put. */
interface Stored extends Document {
  _id: string;
}

/** Bookkeeping collections of the ledger database; read-model collections may not take these names. */
const meta = { registry: 'collections', checkpoints: 'checkpoints', versions: 'read_model_versions' } as const;
const reservedNames = new Set<string>(Object.values(meta));

const namePattern = /^[a-z][a-z0-9_]{0,99}$/;
const fieldPattern = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const prefixPattern = /^[A-Za-z0-9_]{0,20}$/;

const checkName = (name: string): string => {
  if (!namePattern.test(name)) throw new TypeError(`invalid collection name ${JSON.stringify(name)}`);
  return name;
};
const checkField = (field: string): string => {
  if (!fieldPattern.test(field)) throw new TypeError(`invalid field name ${JSON.stringify(field)}`);
  return field;
};
const checkId = (id: string): string => {
  if (id.length > readModelStoreLimits.idLengthMax) throw new TypeError(`id longer than ${readModelStoreLimits.idLengthMax}`);
  return id;
};
/** `$setOnInsert` reads a dotted key as a path and rejects a `$` key: top-level keys must be plain. */
const checkDocFields = (doc: Document): void => {
  for (const key of Object.keys(doc))
    if (key.startsWith('$') || key.includes('.')) throw new TypeError(`document field ${JSON.stringify(key)} is not storable`);
};

/**
 * The read-model store on MongoDB (4.2+ for pipeline updates, 5.0+ for empty `$setOnInsert`): one
 * database per owning service (`{prefix}{database}`), one collection per read model, the document id
 * as `_id`. The ledger database also keeps the bookkeeping: `collections` (which database each
 * read-model collection lives in), `checkpoints` and `read_model_versions`.
 *
 * There are no multi-document transactions here: a commit applies its writes, each atomic and guarded
 * so that repeating it changes nothing, then moves the checkpoint (see the port's doc comment).
 *
 * Connecting is lazy and retried: the driver's own auto-connect keeps a closed topology after a
 * failed first attempt and fails every later operation with MongoTopologyClosedError, so the adapter
 * connects explicitly and tries again on the next call until it succeeds. Once connected, the driver
 * monitors the server and reconnects by itself. Write concern and timeouts come from the URL.
 */
export class MongoReadModelStore implements ReadModelStore {
  readonly engine = 'mongodb' as const;
  readonly #client: MongoClient;
  readonly #prefix: string;
  readonly #databases = new Map<string, ReadModelDatabase>();
  #connection: Promise<void> | undefined;
  #closed = false;

  private constructor(client: MongoClient, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /** A store that connects on first use (no I/O here). */
  static fromUrl(url: string, options: { databasePrefix?: string; serverSelectionTimeoutMS?: number } = {}): MongoReadModelStore {
    const prefix = options.databasePrefix ?? '';
    if (!prefixPattern.test(prefix)) throw new TypeError(`invalid database prefix ${JSON.stringify(prefix)}`);
    // JSON has no undefined: leave such properties out, as JSON.stringify does, instead of storing null.
    const clientOptions: MongoClientOptions = { ignoreUndefined: true };
    if (options.serverSelectionTimeoutMS !== undefined) clientOptions.serverSelectionTimeoutMS = options.serverSelectionTimeoutMS;
    return new MongoReadModelStore(new MongoClient(url, clientOptions), prefix);
  }

  /** A store whose server answered a ping; ReadModelStoreUnavailableError when it did not. */
  static async connect(
    url: string,
    options: { databasePrefix?: string; serverSelectionTimeoutMS?: number } = {},
  ): Promise<MongoReadModelStore> {
    const store = MongoReadModelStore.fromUrl(url, options);
    try {
      await store.ping();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  #ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the read-model store is closed'));
    this.#connection ??= this.#client.connect().then(
      () => undefined,
      (error: unknown) => {
        this.#connection = undefined;
        throw error;
      },
    );
    return this.#connection;
  }

  /** Every operation: connected first, and "no server" reported as the port's error. */
  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      await this.#ready();
      return await work();
    } catch (error) {
      throw translate(error);
    }
  }

  #collection(database: ReadModelDatabase, name: string): Collection<Stored> {
    return this.#client.db(this.#prefix + database).collection<Stored>(name);
  }

  #meta(name: (typeof meta)[keyof typeof meta]): Collection<Stored> {
    return this.#collection('ledger', name);
  }

  /** Where a collection lives, or undefined if it was never ensured (another process may have since). */
  async #databaseOf(name: string): Promise<ReadModelDatabase | undefined> {
    const cached = this.#databases.get(name);
    if (cached !== undefined) return cached;
    const entry = await this.#meta(meta.registry).findOne({ _id: name });
    const database = entry?.database as ReadModelDatabase | undefined;
    if (database !== undefined) this.#databases.set(name, database);
    return database;
  }

  /** The collection to read, or undefined when it does not exist (reads of it are empty). */
  async #readable(name: string): Promise<Collection<Stored> | undefined> {
    const database = await this.#databaseOf(checkName(name));
    return database === undefined ? undefined : this.#collection(database, name);
  }

  /**
   * A collection lives in one database for good: ensuring it again with another database is refused
   * (CollectionDatabaseConflictError) before anything is created, instead of writing to one database
   * and reading from the other. Moving a read model is a drop and a rebuild. The registry entry is
   * read back after the upsert, so a process racing with another database loses the same way.
   */
  async ensureCollection(spec: CollectionSpec): Promise<void> {
    const name = checkName(spec.name);
    if (spec.database === 'ledger' && reservedNames.has(name)) throw new TypeError(`${name} is a reserved collection name`);
    return this.#run(async () => {
      const registered = await this.#databaseOf(name);
      if (registered !== undefined && registered !== spec.database)
        throw new CollectionDatabaseConflictError(name, registered, spec.database);
      const collection = this.#collection(spec.database, name);
      // createIndex is a no-op for an index that exists with the same keys; `_id` is always indexed.
      for (const fields of spec.indexes) {
        if (fields.every(([field]) => field === '_id')) continue;
        // A Map keeps the field order and cannot be misread as a single [field, direction] pair.
        await collection.createIndex(new Map(fields.map(([field, direction]) => [checkField(field), direction])));
      }
      const entry = await this.#meta(meta.registry).findOneAndUpdate(
        { _id: name },
        { $setOnInsert: { database: spec.database } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: false },
      );
      const database = entry?.database as ReadModelDatabase | undefined;
      if (database !== spec.database) throw new CollectionDatabaseConflictError(name, String(database), spec.database);
      this.#databases.set(name, database);
    });
  }

  async dropCollection(name: string): Promise<void> {
    return this.#run(async () => {
      const database = await this.#databaseOf(checkName(name));
      // The driver answers false instead of throwing when the collection is already gone (NamespaceNotFound).
      if (database !== undefined) await this.#collection(database, name).drop();
      await this.#meta(meta.registry).deleteOne({ _id: name });
      this.#databases.delete(name);
    });
  }

  async listCollections(prefix: string): Promise<string[]> {
    return this.#run(async () => {
      const entries = await this.#meta(meta.registry).find({}).toArray();
      // Names are lowercase ASCII (checkName), so this order is the embedded store's byte order too.
      return entries
        .map((entry) => entry._id)
        .filter((name) => name.startsWith(prefix))
        .sort();
    });
  }

  async checkpoint(name: string): Promise<number> {
    return this.#run(async () => {
      const entry = await this.#meta(meta.checkpoints).findOne({ _id: name });
      return typeof entry?.position === 'number' ? entry.position : -1;
    });
  }

  async commit(writes: readonly Write[], checkpoint?: { readonly name: string; readonly position: number }): Promise<void> {
    // Grouped by collection, in order within each; ordered bulk writes keep the order of one id's writes.
    const groups = new Map<string, AnyBulkWriteOperation<Stored>[]>();
    for (const write of writes) {
      const ops = groups.get(write.collection) ?? [];
      groups.set(write.collection, ops);
      ops.push(toOperation(write));
    }
    return this.#run(async () => {
      // The registry is asked afresh (one query) rather than the cache: a rebuild in another process
      // may have dropped an old version since, and MongoDB would silently recreate a dropped
      // collection on write — without its indexes, and outside the registry.
      const names = [...groups.keys()].map(checkName);
      const registered = new Map<string, ReadModelDatabase>();
      if (names.length > 0) {
        for (const entry of await this.#meta(meta.registry)
          .find({ _id: { $in: names } })
          .toArray())
          registered.set(entry._id, entry.database as ReadModelDatabase);
      }
      const targets: [Collection<Stored>, AnyBulkWriteOperation<Stored>[]][] = [];
      for (const [name, ops] of groups) {
        const database = registered.get(name);
        if (database === undefined) {
          this.#databases.delete(name);
          throw new Error(`collection ${name} does not exist; ensureCollection first`);
        }
        targets.push([this.#collection(database, name), ops]);
      }
      for (const [collection, ops] of targets) await collection.bulkWrite(ops, { ordered: true });
      if (checkpoint !== undefined)
        await this.#meta(meta.checkpoints).updateOne(
          { _id: checkpoint.name },
          { $max: { position: checkpoint.position } },
          { upsert: true },
        );
    });
  }

  async get(collection: string, id: string): Promise<StoredDoc | undefined> {
    return this.#run(async () => {
      const found = await (await this.#readable(collection))?.findOne({ _id: id });
      return found ?? undefined;
    });
  }

  async getMany(collection: string, ids: readonly string[]): Promise<Map<string, StoredDoc>> {
    return this.#run(async () => {
      const found = new Map<string, StoredDoc>();
      const target = ids.length === 0 ? undefined : await this.#readable(collection);
      if (target === undefined) return found;
      for (const doc of await target.find({ _id: { $in: [...new Set(ids)] } }).toArray()) found.set(doc._id, doc);
      return found;
    });
  }

  async find(collection: string, query: Query = {}): Promise<StoredDoc[]> {
    const { filter, sort, limit } = findOf(query);
    return this.#run(async () => {
      // A limit of 0 means no limit to MongoDB, so an empty page is answered here.
      const target = limit === 0 ? undefined : await this.#readable(collection);
      if (target === undefined) return [];
      return target.find(filter).sort(sort).limit(limit).toArray();
    });
  }

  /**
   * One aggregation: each condition's query as a pipeline of its own ($match, $sort, $limit: the
   * same index walk as `find`), tagged with its number, the later ones joined by $unionWith, then
   * ordered by that number and the query's order ($unionWith promises no order of its own).
   */
  async findEach(collection: string, query: Omit<Query, 'where'>, wheres: readonly Where[]): Promise<StoredDoc[][]> {
    const answers: StoredDoc[][] = wheres.map(() => []);
    const finds = wheres.map((where) => findOf({ ...query, where }));
    const limit = finds[0]?.limit ?? 0;
    return this.#run(async () => {
      const target = limit === 0 ? undefined : await this.#readable(collection);
      if (target === undefined) return answers;
      const pipelineOf = ({ filter, sort }: (typeof finds)[number], q: number): Document[] => [
        { $match: filter },
        { $sort: Object.fromEntries(sort) },
        { $limit: limit },
        { $addFields: { [queryNumberField]: q } },
      ];
      const sort = { [queryNumberField]: 1, ...Object.fromEntries(finds[0]?.sort ?? []) };
      // A ranking page (at most 100 rows) is one aggregation; more conditions take one per 100, which
      // keeps each pipeline far inside the server's limit on stages.
      for (let from = 0; from < finds.length; from += unionMax) {
        const [first, ...rest] = finds.slice(from, from + unionMax).map((find, i) => pipelineOf(find, from + i));
        const pipeline = [
          ...(first ?? []),
          ...rest.map((pipeline) => ({ $unionWith: { coll: target.collectionName, pipeline } })),
          { $sort: sort },
        ];
        for (const { [queryNumberField]: q, ...doc } of await target
          .aggregate<Stored & { [queryNumberField]: number }>(pipeline)
          .toArray())
          answers[q]?.push(doc);
      }
      return answers;
    });
  }

  async count(collection: string, where?: Readonly<Record<string, Condition>>): Promise<number> {
    const filter = toFilter(where);
    return this.#run(async () => (await (await this.#readable(collection))?.countDocuments(filter)) ?? 0);
  }

  async activeVersion(family: string): Promise<number | undefined> {
    return this.#run(async () => {
      const entry = await this.#meta(meta.versions).findOne({ _id: family });
      return typeof entry?.active === 'number' ? entry.active : undefined;
    });
  }

  async setActiveVersion(family: string, version: number): Promise<void> {
    return this.#run(async () => {
      await this.#meta(meta.versions).updateOne(
        { _id: family },
        { $set: { active: version, switchedAt: new Date().toISOString() } },
        { upsert: true },
      );
    });
  }

  async switchVersionIfCaughtUp(
    family: string,
    version: number,
    checkpoints: { readonly candidate: string; readonly current: string },
  ): Promise<boolean> {
    // Two operations (see the port): the comparison, then the switch.
    if ((await this.checkpoint(checkpoints.candidate)) < (await this.checkpoint(checkpoints.current))) return false;
    await this.setActiveVersion(family, version);
    return true;
  }

  async ping(): Promise<void> {
    return this.#run(async () => {
      await this.#client.db(this.#prefix + 'ledger').command({ ping: 1 });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#client.close();
  }
}

const toOperation = (write: Write): AnyBulkWriteOperation<Stored> => {
  const _id = checkId(write.id);
  switch (write.op) {
    case 'put': {
      checkDocFields(write.doc);
      if (!Number.isSafeInteger(write.position) || write.position < 0) throw new TypeError('a put needs a log position ≥ 0');
      // One atomic, guarded update, no duplicate-key race: on upsert the pipeline sees the document
      // built from the filter ({_id}), whose missing `_position` counts as -1, so a new id is written;
      // an existing document is replaced only from a later position, else it stays ($$ROOT).
      // $literal keeps user strings that start with `$` from being read as field paths or operators.
      const replacement = { ...write.doc, _id, _position: write.position };
      const newer = { $lt: [{ $ifNull: ['$_position', -1] }, write.position] };
      return {
        updateOne: {
          filter: { _id },
          update: [{ $replaceWith: { $cond: [newer, { $literal: replacement }, '$$ROOT'] } }],
          upsert: true,
        },
      };
    }
    case 'insert': {
      checkDocFields(write.doc);
      const { _id: _ignored, ...fields } = write.doc;
      return { updateOne: { filter: { _id }, update: { $setOnInsert: fields }, upsert: true } };
    }
    case 'delete':
      return { deleteOne: { filter: { _id } } };
  }
};

/** Conditions `findEach` joins in one aggregation. */
const unionMax = 100;

/** Tags each document of `findEach` with the number of its condition (removed before answering). */
const queryNumberField = '_findEachQuery';

/** A port query as the driver's filter, sort and limit. */
const findOf = (query: Query): { filter: Filter<Stored>; sort: [string, SortDirection][]; limit: number } => {
  const orderBy: NonNullable<Query['orderBy']> = query.orderBy ?? [['_id', 1]];
  const clauses: Filter<Stored>[] = [toFilter(query.where)];
  if (query.after !== undefined && query.after.length > 0) {
    if (query.orderBy === undefined || query.after.length !== orderBy.length)
      throw new TypeError('a cursor has one value per orderBy field');
    const after = query.after;
    // Keyset: (a, b) after (x, y) in the given directions = a past x, or a = x and b past y.
    clauses.push({
      $or: orderBy.map(([field, direction], i) => {
        const clause: Document = {};
        orderBy.slice(0, i).forEach(([equalField], j) => (clause[checkField(equalField)] = after[j] ?? null));
        clause[checkField(field)] = { [direction === 1 ? '$gt' : '$lt']: after[i] ?? null };
        return clause;
      }),
    });
  }
  const limit = Math.min(query.limit ?? readModelStoreLimits.findLimitMax, readModelStoreLimits.findLimitMax);
  if (!Number.isSafeInteger(limit) || limit < 0) throw new TypeError('limit must be a non-negative integer');
  for (const [field] of orderBy) checkField(field);
  return { filter: { $and: clauses }, sort: orderBy.map(([field, direction]) => [field, direction]), limit };
};

const toFilter = (where: Readonly<Record<string, Condition>> | undefined): Filter<Stored> => {
  const filter: Document = {};
  for (const [field, condition] of Object.entries(where ?? {})) {
    checkField(field);
    if (condition === null || typeof condition !== 'object') {
      filter[field] = condition; // `null` matches a null or missing field, like SQL's IS NULL on json_extract
      continue;
    }
    const bounds: Document = {};
    for (const op of ['lt', 'lte', 'gt', 'gte'] as const) if (condition[op] !== undefined) bounds[`$${op}`] = condition[op];
    // No bounds means no condition (an empty object would ask for equality with {}).
    if (Object.keys(bounds).length > 0) filter[field] = bounds;
  }
  return filter;
};

/**
 * Server codes of a node that is unreachable, shutting down, not primary or out of time (the
 * driver's retryable set, `MONGODB_ERROR_CODES` in its lib/error.js), and a write concern that timed
 * out (64, WriteConcernFailed).
 */
const unavailableServerCodes = new Set([6, 7, 64, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436]);

/**
 * "No server" becomes the port's ReadModelStoreUnavailableError. A bulk write wraps a driver error
 * (network, server selection) in a MongoBulkWriteError whose `errorResponse` is the original.
 */
export const translate = (error: unknown): unknown => {
  const inner = error instanceof MongoBulkWriteError && error.errorResponse instanceof Error ? error.errorResponse : error;
  const unavailable =
    inner instanceof MongoServerSelectionError ||
    inner instanceof MongoNetworkError ||
    inner instanceof MongoOperationTimeoutError ||
    // The connection pool had no connection in time (not exported by the driver: matched by name).
    (inner instanceof MongoError && inner.name === 'MongoWaitQueueTimeoutError') ||
    (inner instanceof MongoError &&
      (inner.hasErrorLabel('RetryableWriteError') || unavailableServerCodes.has(Number(inner.code))));
  return unavailable && inner instanceof Error
    ? new ReadModelStoreUnavailableError(`MongoDB unavailable: ${inner.message}`, { cause: error })
    : error;
};
