// Test helpers of projections, for the other components' tests and the bench (never for production code).
export { dumpReadModel } from './dump.js';
export { feed } from './feed.js';
export {
  brokerUrl,
  collectQueue,
  createVhost,
  queueDepth,
  readQueue,
  startProxy,
  type Received,
} from '../fanout/rabbitmq/testing/broker.js';
export { BrokerNode } from '../fanout/rabbitmq/testing/brokerNode.js';
export { consumeQueue, publishRaw, purgeQueues } from '../fanout/rabbitmq/testing/rawPublisher.js';
