import { MongoClient, MongoServerError, type ClientSession, type Collection, type MongoClientOptions } from 'mongodb';
import { runHandler, type ProcessOutcome, type ProcessedMessages } from '../processedMessages.js';

/** One processed message: `_id` is the messageId, so MongoDB's unique `_id` index makes a second record fail. */
interface ProcessedDoc {
  _id: string;
  processedAt: Date;
}

export interface MongoProcessedMessagesOptions {
  /** The service's database. */
  readonly database: string;
  /** Default `processed_messages`. */
  readonly collection?: string;
  /**
   * Record the id in a transaction with the handler's writes (the handler receives the session and must
   * pass it to each write). Needs a replica set or mongos. Without it the handler receives `undefined`,
   * the id is recorded after the handler succeeded, and a crash in between repeats the handler once.
   */
  readonly transactions: boolean;
  readonly clientOptions?: MongoClientOptions;
}

const duplicateKeyCode = 11000;
const namespaceExistsCode = 48;

/** True for MongoDB's duplicate-key error: the id was recorded already (by this or a competing consumer). */
export const isDuplicateKey = (error: unknown): boolean => error instanceof MongoServerError && error.code === duplicateKeyCode;

/** Processed messageIds in a MongoDB collection of the service's own database. */
export class MongoProcessedMessages implements ProcessedMessages<ClientSession | undefined> {
  readonly #client: MongoClient;
  readonly #collection: Collection<ProcessedDoc>;
  readonly #transactions: boolean;

  private constructor(client: MongoClient, collection: Collection<ProcessedDoc>, transactions: boolean) {
    this.#client = client;
    this.#collection = collection;
    this.#transactions = transactions;
  }

  static async connect(url: string, options: MongoProcessedMessagesOptions): Promise<MongoProcessedMessages> {
    const client = new MongoClient(url, options.clientOptions ?? {});
    try {
      await client.connect();
    } catch (error) {
      await client.close();
      throw error;
    }
    const name = options.collection ?? 'processed_messages';
    const db = client.db(options.database);
    // Created up front: a first insert inside a transaction would create it there, which two competing
    // transactions cannot both do.
    try {
      await db.createCollection(name);
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === namespaceExistsCode)) {
        await client.close();
        throw error;
      }
    }
    const collection = db.collection<ProcessedDoc>(name);
    return new MongoProcessedMessages(client, collection, options.transactions);
  }

  async has(messageId: string): Promise<boolean> {
    return (await this.#collection.findOne({ _id: messageId }, { projection: { _id: 1 } })) !== null;
  }

  async processOnce(messageId: string, handle: (tx: ClientSession | undefined) => Promise<void>): Promise<ProcessOutcome> {
    return this.#transactions ? this.#inTransaction(messageId, handle) : this.#afterHandler(messageId, handle);
  }

  async #inTransaction(messageId: string, handle: (tx: ClientSession) => Promise<void>): Promise<ProcessOutcome> {
    let outcome: ProcessOutcome = 'processed';
    try {
      await this.#client.withSession((session) =>
        // withTransaction runs the callback again on a transient error (a write conflict with a competing
        // consumer recording the same id); the next run then finds the id and aborts.
        session.withTransaction(async () => {
          outcome = 'processed';
          if ((await this.#collection.findOne({ _id: messageId }, { session, projection: { _id: 1 } })) !== null) {
            outcome = 'duplicate';
            await session.abortTransaction(); // withTransaction returns without committing
            return;
          }
          await this.#collection.insertOne({ _id: messageId, processedAt: new Date() }, { session });
          await runHandler(handle, session);
        }),
      );
    } catch (error) {
      if (isDuplicateKey(error)) return 'duplicate';
      throw error;
    }
    return outcome;
  }

  async #afterHandler(messageId: string, handle: (tx: undefined) => Promise<void>): Promise<ProcessOutcome> {
    if (await this.has(messageId)) return 'duplicate';
    await runHandler(handle, undefined);
    try {
      await this.#collection.insertOne({ _id: messageId, processedAt: new Date() });
    } catch (error) {
      // A competing consumer handled the same message meanwhile: both ran, one recorded it.
      if (!isDuplicateKey(error)) throw error;
    }
    return 'processed';
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
