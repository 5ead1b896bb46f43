/**
 * The consumer kit: how a service (user, gig, clan, …) consumes the ledger's RabbitMQ messages.
 * See docs/reference/messages.md ("Consuming with the kit") and consumers/examples/README.md.
 */
export { consumerLimits } from './limits.js';
export { HandlerFailedError, type ProcessOutcome, type ProcessedMessages } from './processedMessages.js';
export { defaultRetryPolicy, retryDelayMs, retryPolicy, type RetryPolicy } from './retry.js';
export {
  startConsumer,
  type Consumer,
  type ConsumerEvent,
  type ConsumerOptions,
  type ConsumerStats,
  type MessageContext,
} from './rabbitmq/consumer.js';
export { SqliteProcessedMessages, type SqliteProcessedMessagesOptions } from './sqlite/sqliteProcessedMessages.js';
export { MongoProcessedMessages, isDuplicateKey, type MongoProcessedMessagesOptions } from './mongo/mongoProcessedMessages.js';

// The relay's topology and messages, for a service's consumer (the same data the relay declares and publishes).
export { declareRelayTopology } from './rabbitmq/relayTopology.js';
export {
  ledgerMessageSchema,
  messageSchemas,
  messageSchemaVersion,
  serviceQueues,
  type LedgerMessage,
  type LedgerMessageOf,
  type MessageType,
} from '../../projections/src/index.js';

// The seed's user, gig and clan services as consumers, folding with the projections' code.
export { startServiceConsumer, type ServiceConsumer, type ServiceConsumerOptions } from './services/serviceConsumer.js';
export {
  documentCollectionsOf,
  handles,
  serviceNames,
  services,
  ServiceStore,
  type ServiceName,
} from './services/serviceStore.js';
