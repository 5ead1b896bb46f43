import type { ConfirmChannel } from 'amqplib';
import { isAccountStream, type RecordedEvent } from '../../../../ledger/src/index.js';
import type { BatchInFlight, ProjectorLogger, Subscriber } from '../../runtime/subscriber.js';
import { messageExchanges, outgoingMessageOf, type OutgoingMessage } from '../messages.js';
import type { RelayCheckpoint } from '../relayCheckpoint.js';
import { BrokerConnection, BrokerUnavailableError } from './brokerConnection.js';
import { CheckpointSaver } from './checkpointSaver.js';
import { BatchConfirms } from './batchConfirms.js';

/** Limits of the relay, in one place. */
export const relayLimits = {
  /** Most messages published and not yet confirmed by the broker. */
  unconfirmedMessagesMax: 256,
  /** How long a batch waits for a connection before it fails (the projector then retries with its backoff). */
  connectWaitMs: 2_000,
  /** Reconnect backoff: first and last delay (doubling, with jitter, in between). */
  reconnectDelayMsMin: 100,
  reconnectDelayMsMax: 5_000,
  /** AMQP heartbeat: a silently dead connection is noticed within about two of these. */
  heartbeatSeconds: 30,
  /**
   * Most one checkpoint save per this long (the newest confirmed position; a flush or close saves at
   * once). A save is an fsynced write to the event store that takes its write lock and blocks the
   * process's event loop while it runs: saved per batch, under HTTP load it was the workers process's
   * largest single cost. A crash costs at most this long of messages republished, which consumers drop.
   */
  checkpointSaveIntervalMs: 100,
} as const;

export interface RelayOptions {
  /** amqp://user:password@host:port/vhost */
  readonly url: string;
  readonly checkpoint: RelayCheckpoint;
  readonly logger?: ProjectorLogger;
  readonly unconfirmedMessagesMax?: number;
  readonly reconnectDelayMsMax?: number;
  readonly connectWaitMs?: number;
  readonly checkpointSaveIntervalMs?: number;
}

export interface RelayMetrics {
  readonly connected: boolean;
  /** Why the relay cannot publish right now (unreachable, blocked), or undefined. */
  readonly unavailableReason: string | undefined;
  /** Messages handed to the broker (a message counts once per attempt). */
  readonly published: number;
  /** Messages the broker confirmed (both exchanges). */
  readonly confirmed: number;
  /** Publishes the broker nacked. */
  readonly nacked: number;
  /** Publishes the broker returned as unroutable. */
  readonly returned: number;
  /** Successful reconnections after the first connection. */
  readonly reconnects: number;
  /** Messages published and not yet confirmed, now. */
  readonly unconfirmed: number;
}

/** A publish the broker did not take: the batch fails and is republished from the checkpoint. */
export class PublishNotConfirmedError extends Error {}

const silentLogger: ProjectorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The relay: a subscriber on the projections runtime that publishes every account event, in log
 * order, to the seed's exchange (and the topic exchange) over a confirm channel. Batches are
 * pipelined: `handle` returns once a batch is published, and the runtime counts it handled when its
 * `done` resolves, once the broker has confirmed every message of it and of every batch before it;
 * only then is the checkpoint saved past it. A nack, a return (unroutable), a closed channel or a lost
 * connection fails that batch and every later one, and the runtime resubscribes from the checkpoint,
 * so they are published again with the same messageIds.
 *
 * amqplib's opt-in recovery owns the connection: it reconnects with capped backoff and re-declares
 * the topology in its setup after every (re)connect (`BrokerConnection`, brokerConnection.ts).
 */
export class RabbitMqRelay implements Subscriber {
  readonly name = 'rabbitmq_relay';
  readonly #checkpoint: RelayCheckpoint;
  readonly #log: ProjectorLogger;
  readonly #unconfirmedMax: number;
  readonly #broker: BrokerConnection;
  /**
   * The first publish of this subscription the broker did not take (or could not be sent): nothing
   * more is published, and every batch from it on fails, until the runtime resubscribes (loadCheckpoint).
   */
  #failure: Error | undefined;
  /** The last batch handed over: settles once it and every batch before it are confirmed (or one failed). */
  #tail: Promise<void> = Promise.resolve();
  readonly #saver: CheckpointSaver;
  #published = 0;
  #confirmed = 0;
  #nacked = 0;
  #returnedCount = 0;
  #unconfirmed = 0;

  constructor(options: RelayOptions) {
    this.#checkpoint = options.checkpoint;
    this.#log = options.logger ?? silentLogger;
    this.#unconfirmedMax = options.unconfirmedMessagesMax ?? relayLimits.unconfirmedMessagesMax;
    this.#broker = new BrokerConnection({
      url: options.url,
      name: this.name,
      logger: this.#log,
      heartbeatSeconds: relayLimits.heartbeatSeconds,
      reconnectDelayMsMin: relayLimits.reconnectDelayMsMin,
      reconnectDelayMsMax: options.reconnectDelayMsMax ?? relayLimits.reconnectDelayMsMax,
      connectWaitMs: options.connectWaitMs ?? relayLimits.connectWaitMs,
    });
    this.#saver = new CheckpointSaver(
      options.checkpoint,
      options.checkpointSaveIntervalMs ?? relayLimits.checkpointSaveIntervalMs,
      (error) => this.#log.error({ relay: this.name, err: error }, 'relay checkpoint could not be saved'),
    );
  }

  /** Starts connecting in the background (an unreachable broker is retried, never fatal). */
  start(): Promise<void> {
    return this.#broker.start();
  }

  /** Resolves when the relay can publish; rejects with the reason otherwise (for /ready). */
  ready(): Promise<void> {
    const reason = this.#broker.unavailableReason();
    return reason === undefined ? Promise.resolve() : Promise.reject(new BrokerUnavailableError(reason));
  }

  metrics(): RelayMetrics {
    return {
      connected: this.#broker.connected,
      unavailableReason: this.#broker.unavailableReason(),
      published: this.#published,
      confirmed: this.#confirmed,
      nacked: this.#nacked,
      returned: this.#returnedCount,
      reconnects: this.#broker.reconnects,
      unconfirmed: this.#unconfirmed,
    };
  }

  async loadCheckpoint(): Promise<number> {
    // Batches of the last subscription still in flight settle first: a resubscription starts clean.
    await this.#tail.catch(() => undefined);
    this.#tail = Promise.resolve();
    this.#failure = undefined;
    await this.flushCheckpoint().catch(() => undefined); // a failed save leaves the older position: duplicates, not losses
    const position = await this.#checkpoint.load();
    if (position === undefined) {
      this.#log.warn(
        { relay: this.name },
        'relay has no checkpoint: publishing the whole log from the start. If it published before, its checkpoint ' +
          'was lost and consumers receive those events again, with the same messageIds, and drop them',
      );
      return -1;
    }
    return position;
  }

  /**
   * Publishes the batch and returns once it is written (the window has room for it), not once it is
   * confirmed: the next batch is published while this one's confirms arrive, so the window never
   * drains between batches. `done` resolves once this batch and every earlier one are confirmed (the
   * checkpoint is then saved past it), and rejects if any was not taken (the runtime resubscribes from
   * the checkpoint, which stays behind the failed message). Throws at once if there is no channel.
   */
  async handle(batch: readonly RecordedEvent[]): Promise<BatchInFlight> {
    const failure = this.#failure;
    const confirmed =
      failure !== undefined
        ? Promise.resolve(failure)
        : batch.some((recorded) => isAccountStream(recorded.stream))
          ? (await this.#publishAll(batch)).settled
          : Promise.resolve(undefined);
    const last = batch[batch.length - 1];
    const previous = this.#tail;
    const done = (async (): Promise<void> => {
      const problem = await confirmed; // never rejects: the batch's first problem, or undefined
      await previous; // rejects if an earlier batch failed: this one is not counted either
      if (problem !== undefined) throw problem;
      if (last !== undefined) this.#saver.save(last.position);
    })();
    done.catch(() => undefined); // the runtime takes the rejection; the next batch's `done` carries it too
    this.#tail = done;
    return { done };
  }

  /**
   * Resolves once every batch handed over so far is confirmed (or failed) and every confirmed position
   * is saved; rejects if a save failed.
   */
  async flushCheckpoint(): Promise<void> {
    await this.#tail.catch(() => undefined);
    await this.#saver.flush();
  }

  /** Closes the connection (recovery stops); a batch in flight fails and its checkpoint is not saved. */
  async close(): Promise<void> {
    await this.#saver.flush().catch(() => undefined); // a failed save leaves the older position: duplicates, not losses
    await this.#broker.close();
  }

  /**
   * Publishes in order with at most `unconfirmedMax` messages unconfirmed (counted across batches);
   * the broker's answers are counted in the returned `BatchConfirms` (sealed). Stops at the first
   * failure of the subscription (a nack, a return, a lost channel), which is then the batch's problem.
   */
  async #publishAll(batch: readonly RecordedEvent[]): Promise<BatchConfirms> {
    const channel = await this.#broker.confirmChannel();
    const confirms = new BatchConfirms();
    for (const recorded of batch) {
      // Mapped before waiting for room in the window, so the mapping overlaps the confirms in flight.
      const message = outgoingMessageOf(recorded);
      if (message === undefined) continue;
      let stopped = this.#failure;
      while (stopped === undefined && (this.#unconfirmed >= this.#unconfirmedMax || this.#broker.blockedReason !== undefined)) {
        if (this.#broker.closed || !this.#broker.connected)
          stopped = new BrokerUnavailableError(this.#broker.unavailableReason() ?? 'closed');
        else {
          await this.#broker.nextWake(relayLimits.connectWaitMs);
          stopped = this.#failure;
        }
      }
      if (stopped !== undefined) {
        this.#failure ??= stopped;
        confirms.stop(stopped);
        break;
      }
      if (!this.#publishOne(channel, message, confirms) && this.#failure === undefined) {
        // The socket's buffer is full: wait for it to drain (or the channel to close) before writing more.
        await this.#broker.nextWake(relayLimits.connectWaitMs);
      }
    }
    confirms.seal();
    return confirms;
  }

  /**
   * Publishes one message to both exchanges; its answer (undefined, or why it was not taken) goes to
   * `confirms` once both are answered. False when the socket's buffer is full (wait for `drain`).
   * Plain callbacks, no promise per publish: this runs for every message.
   */
  #publishOne(channel: ConfirmChannel, message: OutgoingMessage, confirms: BatchConfirms): boolean {
    this.#published++;
    this.#unconfirmed++;
    const at = confirms.expect();
    const { messageId } = message.properties;
    let legs = 2;
    let directProblem: Error | undefined;
    let topicProblem: Error | undefined;
    const answered = (): void => {
      if (--legs > 0) return;
      const problem = directProblem ?? topicProblem;
      this.#unconfirmed--;
      if (problem === undefined) this.#confirmed++;
      else this.#failure ??= problem;
      this.#broker.wake();
      confirms.answer(at, problem);
    };
    let written = true;
    try {
      // `message.properties` is `mandatory` already: an unroutable message comes back (`return`) before its confirm.
      written = channel.publish(messageExchanges.direct, message.routingKey, message.body, message.properties, (err: unknown) => {
        directProblem = this.#notTaken(messageId, err);
        if (directProblem === undefined && this.#broker.takeReturned(messageId)) {
          this.#returnedCount++;
          directProblem = new PublishNotConfirmedError(`${messageId}: returned by the broker as unroutable`);
        }
        answered();
      });
    } catch (thrown) {
      // A closed channel throws at once.
      written = false;
      directProblem = new BrokerUnavailableError(`${messageId}: ${(thrown as Error).message}`);
      answered();
    }
    try {
      const topicProperties = { ...message.properties, mandatory: false };
      written =
        channel.publish(messageExchanges.topic, message.topicRoutingKey, message.body, topicProperties, (err: unknown) => {
          topicProblem = this.#notTaken(messageId, err);
          answered();
        }) && written;
    } catch (thrown) {
      written = false;
      topicProblem = new BrokerUnavailableError(`${messageId}: ${(thrown as Error).message}`);
      answered();
    }
    return written;
  }

  /** The problem a publish's confirm callback reports (a nack, a closed channel), or undefined for an ack. */
  #notTaken(messageId: string, err: unknown): Error | undefined {
    if (!(err instanceof Error)) return undefined;
    const nacked = err.message === 'message nacked';
    if (nacked) this.#nacked++;
    return new PublishNotConfirmedError(`${messageId}: ${nacked ? 'nacked by the broker' : err.message}`);
  }
}
