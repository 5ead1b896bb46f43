import assert from 'node:assert/strict';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { z } from 'zod';
import { consumerLimits } from '../limits.js';
import { HandlerFailedError, type ProcessedMessages } from '../processedMessages.js';
import { retryDelayMs, retryPolicy, type RetryPolicy } from '../retry.js';

/** What a handler learns about the delivery besides the validated message. */
export interface MessageContext<Tx> {
  readonly messageId: string;
  /** 1 on the first try, up to `retry.attemptsMax`. */
  readonly attempt: number;
  /** The broker delivered this message before (to this or another consumer) without an ack. */
  readonly redelivered: boolean;
  /** The dedupe store's transaction (see ProcessedMessages): write the effects through it. */
  readonly tx: Tx;
  /** Aborted when `stop()` ran out of grace: give up, the message is redelivered later. */
  readonly signal: AbortSignal;
}

/** What happened, for the service's logs and metrics. */
export type ConsumerEvent =
  | { readonly type: 'connected' }
  | { readonly type: 'stopping' }
  | { readonly type: 'disconnected'; readonly error: Error }
  | { readonly type: 'reconnect-scheduled'; readonly attempt: number; readonly delayMs: number; readonly error: Error }
  | { readonly type: 'processed'; readonly messageId: string }
  | { readonly type: 'duplicate'; readonly messageId: string }
  | {
      readonly type: 'retrying';
      readonly messageId: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: unknown;
    }
  | {
      readonly type: 'dead-lettered';
      readonly messageId: string | undefined;
      readonly reason: 'invalid' | 'handler-failed';
      readonly error: unknown;
    }
  | { readonly type: 'requeued'; readonly messageId: string; readonly error: unknown };

export interface ConsumerStats {
  processed: number;
  duplicates: number;
  retries: number;
  deadLettered: number;
  /** Deliveries handed back to the queue because the dedupe store failed (not the message's fault). */
  requeued: number;
  /** Connections made after the first. */
  reconnects: number;
}

export interface ConsumerOptions<Schema extends z.ZodType, Tx> {
  /** amqp://user:pass@host:port/vhost */
  readonly url: string;
  /** An existing queue with a dead-letter exchange (without one, a dead-lettered message is dropped). */
  readonly queue: string;
  /** Every message body is JSON that must parse with this schema; one that does not is dead-lettered at once. */
  readonly schema: Schema;
  readonly processed: ProcessedMessages<Tx>;
  /** Resolves once the message's effects are written; throws to have it retried. */
  readonly handle: (message: z.output<Schema>, context: MessageContext<Tx>) => Promise<void>;
  readonly prefetch?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly stopGraceMs?: number;
  readonly reconnect?: {
    readonly delayMsInitial?: number;
    readonly delayMsMax?: number;
    /**
     * Failed connection attempts before `startConsumer` gives up and rejects (default: never, a service
     * waits for its broker). Once connected, the consumer reconnects forever.
     */
    readonly attemptsMaxAtStart?: number;
  };
  /** Declares topology (idempotently) on every (re)connect, before consuming; e.g. the relay's queues. */
  readonly topology?: (channel: Channel) => Promise<void>;
  readonly onEvent?: (event: ConsumerEvent) => void;
}

export interface Consumer {
  /** Stops handling deliveries, lets the message in hand finish (up to stopGraceMs), then closes. */
  stop(): Promise<void>;
  readonly stats: Readonly<ConsumerStats>;
}

/** The outcome the kit settles a delivery with. */
type Settlement = 'ack' | 'dead-letter' | 'requeue' | 'leave';

/**
 * Consumes `queue` until stopped: validates each message, drops duplicates by messageId, calls the handler,
 * acks only after the handler's effects and the messageId were recorded, retries a failing handler with
 * capped backoff and then dead-letters the message (nack, requeue=false, to the queue's DLX), so one poison
 * message never blocks the queue. Deliveries are handled one at a time in queue order (per-account order
 * survives); the prefetch only bounds how many wait in memory. The connection recovers by itself (amqplib's
 * opt-in recovery): after a cut or a broker restart the consumer reconnects with capped backoff and the
 * broker redelivers whatever was not acked. Resolves once consuming has started.
 */
export const startConsumer = async <Schema extends z.ZodType, Tx>(options: ConsumerOptions<Schema, Tx>): Promise<Consumer> => {
  const prefetch = options.prefetch ?? consumerLimits.prefetchDefault;
  assert.ok(Number.isSafeInteger(prefetch) && prefetch >= 1 && prefetch <= consumerLimits.prefetchMax, 'prefetch out of bounds');
  const stopGraceMs = options.stopGraceMs ?? consumerLimits.stopGraceMsDefault;
  assert.ok(
    Number.isSafeInteger(stopGraceMs) && stopGraceMs >= 0 && stopGraceMs <= consumerLimits.stopGraceMsMax,
    'stopGraceMs out of bounds',
  );
  const retry = retryPolicy(options.retry);
  const emit = (event: ConsumerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A failing logger must not change how a message is settled.
    }
  };
  const stats: ConsumerStats = { processed: 0, duplicates: 0, retries: 0, deadLettered: 0, requeued: 0, reconnects: 0 };
  const stopping = new AbortController(); // stop() called: take nothing new, cut backoff waits short
  const abandoned = new AbortController(); // grace ran out: handlers should give up
  let connections = 0;
  /** Deliveries run one after another on this chain; `stop()` waits for it. */
  let chain: Promise<void> = Promise.resolve();
  let current: { channel: Channel } | undefined;

  const backoff = (delayMs: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, delayMs);
      function done(): void {
        clearTimeout(timer);
        stopping.signal.removeEventListener('abort', done);
        resolve();
      }
      stopping.signal.addEventListener('abort', done, { once: true });
    });

  const deadLetter = (messageId: string | undefined, reason: 'invalid' | 'handler-failed', error: unknown): Settlement => {
    stats.deadLettered++;
    emit({ type: 'dead-lettered', messageId, reason, error });
    return 'dead-letter';
  };

  /** Validates and handles one delivery, and says how to settle it. */
  const handleDelivery = async (message: ConsumeMessage): Promise<Settlement> => {
    const messageId: unknown = message.properties.messageId;
    if (typeof messageId !== 'string' || messageId.length === 0 || messageId.length > consumerLimits.messageIdLengthMax) {
      return deadLetter(undefined, 'invalid', new Error('no usable messageId property'));
    }
    let body: unknown;
    try {
      body = JSON.parse(message.content.toString('utf8'));
    } catch (error) {
      return deadLetter(messageId, 'invalid', error);
    }
    const parsed = options.schema.safeParse(body);
    if (!parsed.success) return deadLetter(messageId, 'invalid', parsed.error);
    for (let attempt = 1; ; attempt++) {
      if (stopping.signal.aborted) return 'leave';
      try {
        const outcome = await options.processed.processOnce(messageId, (tx) =>
          options.handle(parsed.data, {
            messageId,
            attempt,
            redelivered: message.fields.redelivered,
            tx,
            signal: abandoned.signal,
          }),
        );
        stats[outcome === 'processed' ? 'processed' : 'duplicates']++;
        emit({ type: outcome, messageId });
        return 'ack';
      } catch (error) {
        const delayMs = retryDelayMs(attempt, retry);
        if (!(error instanceof HandlerFailedError)) {
          // The dedupe store failed, not the message: hand it back after a pause rather than dead-letter it.
          await backoff(delayMs);
          stats.requeued++;
          emit({ type: 'requeued', messageId, error });
          return 'requeue';
        }
        if (attempt >= retry.attemptsMax) return deadLetter(messageId, 'handler-failed', error.cause);
        stats.retries++;
        emit({ type: 'retrying', messageId, attempt, delayMs, error: error.cause });
        await backoff(delayMs);
      }
    }
  };

  const onDelivery = (channel: Channel, isOpen: () => boolean, message: ConsumeMessage): void => {
    const settle = async (): Promise<void> => {
      if (stopping.signal.aborted || !isOpen()) return; // left unacked: the broker redelivers it
      const settlement = await handleDelivery(message);
      // A delivery tag belongs to its channel: once that closed, the broker has requeued the message already.
      if (!isOpen()) return;
      if (settlement === 'ack') channel.ack(message);
      else if (settlement === 'dead-letter') channel.nack(message, false, false);
      else if (settlement === 'requeue') channel.nack(message, false, true);
    };
    chain = chain.then(settle).catch(() => {
      // Only a bug gets here (the handler's and the store's errors are settled above); hand the message
      // back rather than hold it unacked and stall the queue.
      if (isOpen()) channel.nack(message, false, true);
    });
  };

  /** Runs after every (re)connect: a fresh channel, the topology, the prefetch, the consumer. */
  const setup = async (model: ChannelModel): Promise<void> => {
    const channel = await model.createChannel();
    let open = true;
    channel.on('error', () => undefined); // the 'close' that follows is what matters
    channel.on('close', () => {
      open = false;
      // A channel the broker closed under a live connection (queue deleted, precondition failed) is not
      // recovered by amqplib: closing the connection hands the problem to its recovery.
      if (!stopping.signal.aborted) model.close().catch(() => undefined);
    });
    if (options.topology !== undefined) await options.topology(channel);
    await channel.prefetch(prefetch, false);
    await channel.consume(
      options.queue,
      (message) => {
        if (message === null) {
          // The broker cancelled the consumer (the queue was deleted): reconnect, and consume again once it exists.
          if (!stopping.signal.aborted) model.close().catch(() => undefined);
          return;
        }
        onDelivery(channel, () => open, message);
      },
      { noAck: false },
    );
    current = { channel };
    if (connections++ > 0) stats.reconnects++;
  };

  const connection = await connect(options.url, {
    recovery: {
      initialDelay: options.reconnect?.delayMsInitial ?? consumerLimits.reconnectDelayMsInitialDefault,
      maxDelay: options.reconnect?.delayMsMax ?? consumerLimits.reconnectDelayMsMaxDefault,
      factor: consumerLimits.reconnectBackoffFactor,
      jitter: consumerLimits.reconnectJitter,
      maxRetries: Infinity,
      initialMaxRetries: options.reconnect?.attemptsMaxAtStart ?? Infinity,
      waitForConnect: false,
      setup,
    },
  });
  connection.on('connect', () => emit({ type: 'connected' }));
  connection.on('disconnect', (error) => emit({ type: 'disconnected', error }));
  connection.on('reconnect-scheduled', ({ attempt, delay, error }) =>
    emit({ type: 'reconnect-scheduled', attempt, delayMs: delay, error }),
  );
  connection.on('error', () => undefined); // followed by 'disconnect', which recovery handles
  await connection.waitForConnect();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      // No basic.cancel: RabbitMQ 3.10's quorum queues can drop an ack that follows a cancel of its consumer
      // (seen here: the finished message came back). Deliveries that still arrive wait unhandled (at most
      // `prefetch`) and go back to the queue when the channel closes.
      stopping.abort();
      emit({ type: 'stopping' });
      const consumer = current;
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, stopGraceMs);
      });
      await Promise.race([chain, graceOver]);
      clearTimeout(timer);
      abandoned.abort();
      // Closing the channel first: its close follows its acks on the wire, so they are all settled before.
      if (consumer !== undefined) await consumer.channel.close().catch(() => undefined);
      await connection.close();
    })());

  return { stop, stats };
};
