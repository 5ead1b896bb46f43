import type { Channel } from 'amqplib';
import { z } from 'zod';

/**
 * A queue shaped like the relay's (quorum, durable, its own dead-letter exchange and `<queue>.dlq`), declared
 * by the tests themselves until the relay's topology can be imported.
 */
export const declareQueueWithDlq = async (channel: Channel, queue: string): Promise<void> => {
  await channel.assertExchange(`${queue}.dlx`, 'fanout', { durable: true });
  await channel.assertQueue(`${queue}.dlq`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(`${queue}.dlq`, `${queue}.dlx`, '');
  await channel.assertQueue(queue, {
    durable: true,
    arguments: { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': `${queue}.dlx` },
  });
};

/** A message schema of the tests' own, in the relay's style (the real ones arrive with the relay). */
export const testMessageSchema = z.object({
  type: z.enum(['credit_purchase', 'credit_spent']),
  userId: z.string().min(1),
  amount: z.int().positive(),
  /** Tests' own instructions to their handler. */
  hang: z.boolean().optional(),
});
export type TestMessage = z.infer<typeof testMessageSchema>;
