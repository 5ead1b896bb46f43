/**
 * A service consuming its queue with the kit: every credit or boost message is stored once in the
 * service's own SQLite table, in the same transaction as its messageId.
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 QUEUE=user_credit_queue DB=./data/user-service.db \
 *     node --import tsx consumers/examples/creditEventsConsumer.ts
 *
 * It declares the relay's topology itself (the same data the relay declares), so it may start first.
 * Ctrl-C stops gracefully.
 */
import { z } from 'zod';
import { declareRelayTopology, ledgerMessageSchema, SqliteProcessedMessages, startConsumer } from '../src/index.js';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const queue = process.env.QUEUE ?? 'user_credit_queue';
const processed = new SqliteProcessedMessages(process.env.DB ?? './data/example-consumer.db');
processed.db.exec(`CREATE TABLE IF NOT EXISTS credit_events (
  event_id TEXT PRIMARY KEY, type TEXT NOT NULL, user_id TEXT NOT NULL, target_id TEXT, amount INTEGER NOT NULL, at TEXT NOT NULL)`);
const insert = processed.db.prepare(
  'INSERT INTO credit_events (event_id, type, user_id, target_id, amount, at) VALUES (?, ?, ?, ?, ?, ?)',
);

const consumer = await startConsumer({
  url,
  queue,
  schema: ledgerMessageSchema,
  processed,
  topology: declareRelayTopology,
  prefetch: 32,
  retry: { attemptsMax: 5, backoffMsBase: 200, backoffMsMax: 5_000 },
  // `insert` runs on the kit's connection, inside the transaction that also records the messageId (the
  // handler's `context.tx` is that same connection), so the row and the id commit together.
  handle: async (message) => {
    insert.run(message.eventId, message.type, message.userId, message.targetId, message.amount, message.timestamp);
  },
  onEvent: (event) => {
    const detail = (error: unknown): string =>
      error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
    const line = 'error' in event ? `${event.type} ${JSON.stringify(event)} ${detail(event.error)}` : JSON.stringify(event);
    process.stdout.write(`${line}\n`);
  },
});
process.stdout.write(`consuming ${queue}\n`);

const shutdown = (): void => {
  consumer
    .stop()
    .then(() => processed.close())
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    });
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
