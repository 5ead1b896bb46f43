import type { ChannelModel } from 'amqplib';
import { supportsQuorumQueues, topology, type QueueKind } from '../topology.js';

/** The queue kind this broker gets: quorum where it supports them. */
export const queueKindOf = (model: ChannelModel): QueueKind => {
  const version = model.connection.serverProperties.version;
  return supportsQuorumQueues(typeof version === 'string' ? version : undefined) ? 'quorum' : 'classic';
};

/**
 * Declares the whole topology (exchanges, queues with their dead-letter exchanges and queues,
 * bindings). Idempotent: run after every (re)connect. A declaration that conflicts with what exists
 * (say a classic queue of the same name) fails with the broker's PRECONDITION_FAILED message.
 */
export const declareTopology = async (model: ChannelModel): Promise<QueueKind> => {
  const kind = queueKindOf(model);
  const plan = topology(kind);
  const channel = await model.createChannel();
  try {
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
  } finally {
    await channel.close().catch(() => undefined);
  }
  return kind;
};
