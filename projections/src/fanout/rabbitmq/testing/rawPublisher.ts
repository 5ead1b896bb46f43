import { connect, type ConsumeMessage } from 'amqplib';
import { messageExchanges, type OutgoingMessage } from '../../messages.js';
import { declareTopology } from '../declareTopology.js';

/**
 * The baseline for the relay's throughput: plain amqplib, one confirm channel, the same messages to
 * the same exchanges with the same properties and the same window of unconfirmed messages — and
 * nothing else (no log, no checkpoint, no reconnects).
 */
export const publishRaw = async (url: string, messages: readonly OutgoingMessage[], windowMax: number): Promise<void> => {
  const connection = await connect(url);
  try {
    await declareTopology(connection);
    const channel = await connection.createConfirmChannel();
    let unconfirmed = 0;
    let wake: (() => void) | undefined;
    let failure: unknown;
    const confirmed = (err: unknown): void => {
      if (err !== null && err !== undefined) failure ??= err;
      unconfirmed--;
      wake?.();
    };
    for (const message of messages) {
      while (unconfirmed >= windowMax) await new Promise<void>((resolve) => (wake = resolve));
      const { mandatory: _mandatory, ...properties } = message.properties;
      unconfirmed += 2;
      const a = channel.publish(
        messageExchanges.direct,
        message.routingKey,
        message.body,
        { ...properties, mandatory: true },
        confirmed,
      );
      const b = channel.publish(
        messageExchanges.topic,
        message.topicRoutingKey,
        message.body,
        { ...properties, mandatory: false },
        confirmed,
      );
      if (!a || !b) await new Promise<void>((resolve) => channel.once('drain', resolve));
    }
    await channel.waitForConfirms();
    if (failure !== undefined) throw failure as Error;
  } finally {
    await connection.close();
  }
};

/** Consumes a queue, calling `onMessage` for each (acked at once); returns a function that stops it. */
export const consumeQueue = async (
  url: string,
  queue: string,
  onMessage: (message: ConsumeMessage) => void,
): Promise<() => Promise<void>> => {
  const connection = await connect(url);
  const channel = await connection.createChannel();
  await channel.prefetch(1000);
  await channel.consume(queue, (message) => {
    if (message === null) return;
    onMessage(message);
    channel.ack(message);
  });
  return () => connection.close();
};

/** Empties the service queues between runs. */
export const purgeQueues = async (url: string, queues: readonly string[]): Promise<void> => {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.purgeQueue(queue);
  } finally {
    await connection.close();
  }
};
