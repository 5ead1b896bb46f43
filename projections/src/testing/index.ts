// Test helpers of projections, for the other components' tests and the bench (never for production code).
export { dumpReadModel } from './dump.js';
export { feed } from './feed.js';
export { openLedgerWithReadModels, testContext, type LedgerWithReadModels, type WithoutNow } from './ledgerWithReadModels.js';
export {
  brokerUrl,
  collectQueue,
  createVhost,
  hasAll,
  queueDepth,
  readQueue,
  startProxy,
  type Received,
} from '../fanout/rabbitmq/testing/broker.js';
export { BrokerNode } from '../fanout/rabbitmq/testing/brokerNode.js';
export { openLedgerWithVhost, startRelaying, startSettlement } from '../fanout/rabbitmq/testing/fanoutFixture.js';
export { consumeQueue, publishRaw, purgeQueues } from '../fanout/rabbitmq/testing/rawPublisher.js';
