/**
 * The RabbitMQ topology of the fan-out: the seed's direct exchange and three service queues, each
 * with its own dead-letter exchange and queue, plus a topic exchange for new consumers.
 *
 * Plain data, no client: the relay (rabbitmq/declareTopology.ts) and the consumer kit declare the
 * same names with the same arguments from here. RabbitMQ refuses a re-declaration whose arguments
 * differ (PRECONDITION_FAILED, which closes the channel), so both sides must take them from one place.
 */

/** The seed's exchange: direct, durable. */
export const creditEventsExchange = 'credit_events';

/** The seed's routing keys on `credit_events`. */
export const routingKeys = {
  /** Boost activations and expiries. */
  boost: 'boost.event',
  /** Purchases, spends, earnings, gig payments, clan contributions. */
  credit: 'credit.event',
} as const;
export type RoutingKey = (typeof routingKeys)[keyof typeof routingKeys];

/** The topic exchange for consumers that bind precisely: routing key `<targetType>.<type>`, e.g. `gig.gig_boost`. */
export const ledgerEventsExchange = 'ledger_events';
export const ledgerEventsRoutingKey = (targetType: string, type: string): string => `${targetType}.${type}`;

/** The seed's three service queues, each bound to both routing keys (each consumer ignores the types it does not handle). */
export const serviceQueues = ['user_credit_queue', 'gig_credit_queue', 'clan_credit_queue'] as const;
export type ServiceQueue = (typeof serviceQueues)[number];

/** Each queue's own dead-letter exchange (fanout) and queue. */
export const deadLetterExchangeOf = (queue: string): string => `${queue}.dlx`;
export const deadLetterQueueOf = (queue: string): string => `${queue}.dlq`;

export const topologyLimits = {
  /**
   * A quorum queue dead-letters a message redelivered more than this many times: a safety net for a
   * consumer that crashes on a message before it can reject it (the kit rejects a poison message
   * itself, well before this).
   */
  deliveryLimit: 20,
} as const;

/** Quorum queues exist from RabbitMQ 3.8; older brokers get classic durable queues. */
export const supportsQuorumQueues = (brokerVersion: string | undefined): boolean => {
  const match = /^(\d+)\.(\d+)/.exec(brokerVersion ?? '');
  if (match === null) return false;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 3 || (major === 3 && minor >= 8);
};

export type QueueKind = 'quorum' | 'classic';

/** The arguments a service queue is declared with (durable, dead-lettering to its own exchange). */
export const serviceQueueArguments = (queue: string, kind: QueueKind): Record<string, string | number> => ({
  'x-dead-letter-exchange': deadLetterExchangeOf(queue),
  ...(kind === 'quorum' ? { 'x-queue-type': 'quorum', 'x-delivery-limit': topologyLimits.deliveryLimit } : {}),
});

/** The arguments a dead-letter queue is declared with. */
export const deadLetterQueueArguments = (kind: QueueKind): Record<string, string> =>
  kind === 'quorum' ? { 'x-queue-type': 'quorum' } : {};

/** Everything to declare, in order, as data: what the relay and the kit both assert. */
export const topology = (kind: QueueKind) => ({
  exchanges: [
    { name: creditEventsExchange, type: 'direct' as const, durable: true },
    { name: ledgerEventsExchange, type: 'topic' as const, durable: true },
    ...serviceQueues.map((queue) => ({ name: deadLetterExchangeOf(queue), type: 'fanout' as const, durable: true })),
  ],
  queues: serviceQueues.flatMap((queue) => [
    { name: queue, durable: true, arguments: serviceQueueArguments(queue, kind) },
    { name: deadLetterQueueOf(queue), durable: true, arguments: deadLetterQueueArguments(kind) },
  ]),
  bindings: serviceQueues.flatMap((queue) => [
    { queue, exchange: creditEventsExchange, routingKey: routingKeys.boost },
    { queue, exchange: creditEventsExchange, routingKey: routingKeys.credit },
    { queue: deadLetterQueueOf(queue), exchange: deadLetterExchangeOf(queue), routingKey: '' },
  ]),
});
export type Topology = ReturnType<typeof topology>;
