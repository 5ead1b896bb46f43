import type { Channel } from 'amqplib';
import { z } from 'zod';
import {
  deadLetterExchangeOf,
  deadLetterQueueArguments,
  deadLetterQueueOf,
  queueKindOf,
  serviceQueueArguments,
} from '../../../../projections/src/index.js';

/**
 * A queue of a test's own name shaped exactly like the relay's service queues: the arguments come from
 * the relay's topology data (projections/src/fanout/topology.ts), so the kit is tested against the queue
 * shape it meets in production. Tests that need the relay's own names declare the whole topology with
 * `declareRelayTopology`.
 */
export const declareQueueWithDlq = async (channel: Channel, queue: string): Promise<void> => {
  const kind = queueKindOf(channel);
  await channel.assertExchange(deadLetterExchangeOf(queue), 'fanout', { durable: true, autoDelete: false });
  await channel.assertQueue(deadLetterQueueOf(queue), { durable: true, arguments: deadLetterQueueArguments(kind) });
  await channel.bindQueue(deadLetterQueueOf(queue), deadLetterExchangeOf(queue), '');
  await channel.assertQueue(queue, { durable: true, arguments: serviceQueueArguments(queue, kind) });
};

/**
 * A message schema of the kit tests' own: the kit is generic over the schema, and these tests drive its
 * handler (`hang`) in ways no ledger message should carry. The relay's schemas are exercised by the
 * service consumers' tests (consumers/src/services/), which consume what the real relay published.
 */
export const testMessageSchema = z.object({
  type: z.enum(['credit_purchase', 'credit_spent']),
  userId: z.string().min(1),
  amount: z.int().positive(),
  /** Tests' own instructions to their handler. */
  hang: z.boolean().optional(),
});
export type TestMessage = z.infer<typeof testMessageSchema>;
