import type { Channel } from 'amqplib';
import { declareTopologyOn } from '../../../projections/src/index.js';

/**
 * For `startConsumer`'s `topology` option: declares exactly what the relay declares (the same data,
 * projections/src/fanout/topology.ts, through the same function), so a service that starts before the
 * relay finds its queue, and neither side can re-declare a name with other arguments (RabbitMQ would
 * refuse it with PRECONDITION_FAILED and close the channel).
 */
export const declareRelayTopology = async (channel: Channel): Promise<void> => {
  await declareTopologyOn(channel);
};
