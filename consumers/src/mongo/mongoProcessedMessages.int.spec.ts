import { randomUUID } from 'node:crypto';
import { MongoClient, type ClientSession } from 'mongodb';
import { describe } from 'vitest';
import { runProcessedMessagesContract, type ProcessedMessagesFixture } from '../processedMessages.contract.js';
import { MongoProcessedMessages } from './mongoProcessedMessages.js';

/**
 * The processed-messages contract against a real MongoDB server. None can run on the development machines,
 * so this runs only where MONGODB_URL points at one (docker compose up). The transactional mode runs too
 * when that server is a replica set member (transactions need one).
 */
const url = process.env.MONGODB_URL;

if (url === undefined || url === '') {
  const line = '='.repeat(92);
  process.stderr.write(
    `\n${line}\n  SKIPPED: MongoDB processed-messages contract suite — set MONGODB_URL=mongodb://127.0.0.1:27017 to run it\n${line}\n\n`,
  );
  describe.skip('processed-messages contract: MongoDB (SKIPPED: MONGODB_URL is not set)', () => undefined);
} else {
  const fixture = async (transactions: boolean): Promise<ProcessedMessagesFixture<ClientSession | undefined>> => {
    // One database per test: the server is shared and keeps the databases of earlier runs until dropped.
    const database = `kit_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    const store = await MongoProcessedMessages.connect(url, { database, transactions });
    const admin = new MongoClient(url);
    await admin.connect();
    const effects = await admin.db(database).createCollection<{ _id: string }>('effects');
    const reopened: MongoProcessedMessages[] = [];
    return {
      store,
      reopen: async () => {
        const again = await MongoProcessedMessages.connect(url, { database, transactions });
        reopened.push(again);
        return again;
      },
      ...(transactions
        ? {
            effects: {
              write: async (session: ClientSession | undefined, key: string) => {
                await effects.insertOne({ _id: key }, session === undefined ? {} : { session });
              },
              committed: async (key: string) => (await effects.findOne({ _id: key })) !== null,
            },
          }
        : {}),
      cleanup: async () => {
        await store.close();
        for (const again of reopened) await again.close();
        await admin.db(database).dropDatabase();
        await admin.close();
      },
    };
  };

  runProcessedMessagesContract('MongoDB, id recorded after the handler', () => fixture(false));

  const probe = new MongoClient(url);
  const hello = await probe.db('admin').command({ hello: 1 });
  await probe.close();
  if (typeof hello['setName'] === 'string') {
    runProcessedMessagesContract('MongoDB, id recorded in the handler transaction', () => fixture(true));
  } else {
    process.stderr.write('\n  SKIPPED: MongoDB transactional mode — the server at MONGODB_URL is not a replica set\n\n');
  }
}
