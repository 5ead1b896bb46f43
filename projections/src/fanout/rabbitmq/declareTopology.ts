import type { Channel, ChannelModel, Connection } from 'amqplib';
import { supportsQuorumQueues, topology, type QueueKind } from '../topology.js';

/** The queue kind this broker gets: quorum where it supports them. Takes a connection model or a channel. */
export const queueKindOf = (on: { readonly connection: Connection }): QueueKind => {
  const version = on.connection.serverProperties.version;
  return supportsQuorumQueues(typeof version === 'string' ? version : undefined) ? 'quorum' : 'classic';
};

/**
 * Declares the whole topology (exchanges, queues with their dead-letter exchanges and queues,
 * bindings) on an open channel. Idempotent: the relay runs it after every (re)connect, and the
 * consumer kit before it consumes, from the same data (topology.ts), so neither can re-declare a
 * name with other arguments. A declaration that conflicts with what exists (say a classic queue of
 * the same name) fails with the broker's PRECONDITION_FAILED message, which also closes the channel.
 */
export const declareTopologyOn = async (channel: Channel): Promise<QueueKind> => {
  const kind = queueKindOf(channel);
  const plan = topology(kind);
  for (const exchange of plan.exchanges) {
    await channel.assertExchange(exchange.name, exchange.type, { durable: exchange.durable, autoDelete: false });
  }
  for (const queue of plan.queues) {
    await channel.assertQueue(queue.name, {
      durable: queue.durable,
      exclusive: false,
      autoDelete: false,
      arguments: queue.arguments,
    });
  }
  for (const binding of plan.bindings) {
    await channel.bindQueue(binding.queue, binding.exchange, binding.routingKey);
  }
  return kind;
};

/** `declareTopologyOn` over a channel of its own, closed afterwards. */
export const declareTopology = async (model: ChannelModel): Promise<QueueKind> => {
  const channel = await model.createChannel();
  try {
    return await declareTopologyOn(channel);
  } finally {
    await channel.close().catch(() => undefined);
  }
};
