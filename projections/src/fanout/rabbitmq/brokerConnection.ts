import { connect, type ChannelModel, type ConfirmChannel, type Message, type RecoveringChannelModel } from 'amqplib';
import type { ProjectorLogger } from '../../runtime/subscriber.js';
import { declareTopology } from './declareTopology.js';

/** The broker cannot be reached (or blocks publishing) right now. */
export class BrokerUnavailableError extends Error {}

export interface BrokerConnectionOptions {
  /** amqp://user:password@host:port/vhost */
  readonly url: string;
  /** Who owns the connection, as its log lines name it (`{ relay: name }`). */
  readonly name: string;
  readonly logger: ProjectorLogger;
  readonly heartbeatSeconds: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  /** How long `confirmChannel` waits for a connection before it fails. */
  readonly connectWaitMs: number;
}

/** A dead connection is noticed by heartbeats; the URL's own `heartbeat` wins. */
const withHeartbeat = (url: string, heartbeatSeconds: number): string => {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(heartbeatSeconds));
  return parsed.toString();
};

/**
 * The relay's side of the broker: one connection that amqplib's opt-in recovery owns (it reconnects
 * with capped backoff and re-declares the topology in its setup after every (re)connect), the confirm
 * channel on it, and what the publisher waits on: connect, unblock, drain, a confirm, a channel closed.
 * It knows nothing of batches or checkpoints; the relay (rabbitMqRelay.ts) publishes through it.
 */
export class BrokerConnection {
  readonly #options: BrokerConnectionOptions;
  #connection: RecoveringChannelModel | undefined;
  #connected = false;
  #connectedOnce = false;
  #closed = false;
  #reason: string | undefined = 'not connected yet';
  #blockedReason: string | undefined;
  #channel: Promise<ConfirmChannel> | undefined;
  /** messageIds the broker returned as unroutable and whose confirm has not arrived yet. */
  readonly #returned = new Set<string>();
  /** Woken on connect, unblock, drain, a confirm, channel close and close. */
  readonly #wakers = new Set<() => void>();
  #reconnects = 0;

  constructor(options: BrokerConnectionOptions) {
    this.#options = options;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Why the broker blocks publishing, while it does. */
  get blockedReason(): string | undefined {
    return this.#blockedReason;
  }

  /** Successful reconnections after the first connection. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Starts connecting in the background (an unreachable broker is retried, never fatal). */
  async start(): Promise<void> {
    if (this.#connection !== undefined) return;
    const { name, logger: log } = this.#options;
    const connection = await connect(withHeartbeat(this.#options.url, this.#options.heartbeatSeconds), {
      recovery: {
        initialDelay: this.#options.reconnectDelayMsMin,
        maxDelay: this.#options.reconnectDelayMsMax,
        factor: 2,
        jitter: 0.2,
        maxRetries: Infinity,
        waitForConnect: false,
        setup: async (model: ChannelModel) => {
          const kind = await declareTopology(model);
          log.info({ relay: name, queueKind: kind }, 'fan-out topology declared');
        },
      },
    });
    this.#connection = connection;
    connection.on('connect', () => {
      this.#connected = true;
      this.#reason = undefined;
      if (this.#connectedOnce) {
        this.#reconnects++;
        log.info({ relay: name, reconnects: this.#reconnects }, 'relay reconnected to the broker');
      } else log.info({ relay: name }, 'relay connected to the broker');
      this.#connectedOnce = true;
      this.wake();
    });
    connection.on('disconnect', (error: Error) => {
      this.#connected = false;
      this.#blockedReason = undefined;
      this.#reason = `broker connection lost: ${error.message}`;
      log.warn({ relay: name, err: error }, 'relay lost the broker connection; reconnecting');
      this.wake();
    });
    connection.on('connect-failed', (error: Error) => {
      this.#reason = `broker unreachable: ${error.message}`;
    });
    connection.on('reconnect-scheduled', ({ attempt, delay }: { attempt: number; delay: number }) => {
      if (attempt === 1 || attempt % 10 === 0)
        log.warn({ relay: name, attempt, delayMs: delay, reason: this.#reason }, 'relay reconnecting to the broker');
    });
    connection.on('blocked', (reason: string) => {
      this.#blockedReason = reason;
      log.warn({ relay: name, reason }, 'the broker blocked publishing');
    });
    connection.on('unblocked', () => {
      this.#blockedReason = undefined;
      log.info({ relay: name }, 'the broker unblocked publishing');
      this.wake();
    });
    connection.on('error', (error: Error) => log.warn({ relay: name, err: error }, 'broker connection error'));
  }

  /** Closes the connection (recovery stops) and wakes every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#reason = 'relay closed';
    this.wake();
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close();
  }

  /** Why nothing can be published right now, or undefined. */
  unavailableReason(): string | undefined {
    if (this.#closed) return 'relay closed';
    if (!this.#connected) return this.#reason ?? 'broker not connected';
    if (this.#blockedReason !== undefined) return `broker blocked publishing: ${this.#blockedReason}`;
    return undefined;
  }

  wake(): void {
    if (this.#wakers.size === 0) return; // every confirm wakes; the publishing loop waits only when the window is full
    for (const waker of [...this.#wakers]) waker();
  }

  /** Waits for the next wake-up, or `timeoutMs` if given. */
  nextWake(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.#wakers.add(done);
    });
  }

  /** True once for a messageId the broker returned as unroutable (then forgotten). */
  takeReturned(messageId: string): boolean {
    return this.#returned.delete(messageId);
  }

  /** The confirm channel of the current connection, waiting a bounded time for a connection. */
  async confirmChannel(): Promise<ConfirmChannel> {
    const connection = this.#connection;
    if (connection === undefined || this.#closed) throw new BrokerUnavailableError('relay not started or closed');
    if (!this.#connected) {
      const deadline = Date.now() + this.#options.connectWaitMs;
      while (!this.#connected && !this.#closed && Date.now() < deadline) await this.nextWake(deadline - Date.now());
      if (!this.#connected) throw new BrokerUnavailableError(this.unavailableReason() ?? 'broker not connected');
    }
    this.#channel ??= this.#openChannel(connection);
    return this.#channel;
  }

  async #openChannel(connection: RecoveringChannelModel): Promise<ConfirmChannel> {
    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (error) {
      this.#channel = undefined;
      throw error;
    }
    const current = this.#channel;
    channel.on('return', (message: Message) => {
      const messageId: unknown = message.properties.messageId;
      if (typeof messageId === 'string') this.#returned.add(messageId);
    });
    channel.on('drain', () => this.wake());
    channel.on('error', (error: Error) =>
      this.#options.logger.warn({ relay: this.#options.name, err: error }, 'relay channel error'),
    );
    channel.on('close', () => {
      if (this.#channel === current) this.#channel = undefined;
      this.wake();
    });
    return channel;
  }
}
