import { SqliteProcessedMessages } from '../../sqlite/sqliteProcessedMessages.js';
import { startConsumer } from '../consumer.js';
import { declareQueueWithDlq, testMessageSchema } from './topology.js';

/**
 * A consumer in a process of its own, for the crash test: consumes argv[3] at argv[2] with its dedupe
 * table in the SQLite file argv[4], prints `handling <messageId>` when its handler starts and
 * `processed <messageId>` once a message is settled; a message with `hang: true` is never finished
 * (the parent SIGKILLs the process while its handler runs, inside the SQLite transaction).
 */
const [url, queue, dbPath] = process.argv.slice(2);
if (url === undefined || queue === undefined || dbPath === undefined)
  throw new Error('usage: consumerProcess <url> <queue> <db>');
const processed = new SqliteProcessedMessages(dbPath);
await startConsumer({
  url,
  queue,
  schema: testMessageSchema,
  processed,
  topology: (channel) => declareQueueWithDlq(channel, queue),
  handle: async (message, { messageId }) => {
    process.stdout.write(`handling ${messageId}\n`);
    if (message.hang === true) {
      setInterval(() => undefined, 60_000); // keeps the process alive until the parent's SIGKILL
      await new Promise<never>(() => undefined);
    }
  },
  onEvent: (event) => {
    if (event.type === 'processed') process.stdout.write(`processed ${event.messageId}\n`);
  },
});
process.stdout.write('consuming\n');
