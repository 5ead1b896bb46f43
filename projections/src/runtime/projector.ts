import { type RecordedEvent, type EventStore } from '../../../ledger/src/index.js';
import { setImmediate } from 'node:timers/promises';
import { ReadModelStoreUnavailableError, ReadModelVersionSwitchedError } from '../readModels/errors.js';
import { backoffMs } from './backoff.js';
import { InFlightBatches } from './inFlightBatches.js';
import { logBatches } from './logBatches.js';
import type { SharedLogReader } from './sharedLog.js';
import { writeStoppedOn } from './stoppedOnRecord.js';
import {
  describeFailedEvent,
  lagBehind,
  type BatchInFlight,
  type FailedEvent,
  type ProjectorLogger,
  type ProjectorStatus,
  type Subscriber,
} from './subscriber.js';

/** Limits of the projection runtime, in one place. */
export const projectorLimits = {
  /** Most events handed to one `handle` call (one read-model transaction). */
  batchEventsMax: 1000,
  /** A partial batch is handled after the log has been quiet this long. */
  batchWaitMs: 5,
  /** First and last pause before resubscribing after an error (doubling in between). */
  retryBackoffMsMin: 100,
  retryBackoffMsMax: 10_000,
  /** A subscription that makes no progress for this long while the log is ahead is restarted. */
  stallTimeoutMs: 30_000,
  /** How often the watchdog compares the checkpoint with the head of the log. */
  watchdogIntervalMs: 1_000,
  /**
   * Times one event, handed alone, must fail in a row before the projection reports it stopped on that
   * event (`failed`, with the event): one failure may be a passing fault, the same one again is not.
   */
  failedEventAttempts: 2,
} as const;

const retryBackoff = { minMs: projectorLimits.retryBackoffMsMin, maxMs: projectorLimits.retryBackoffMsMax };

const silentLogger: ProjectorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Runs one subscriber: subscribe from its checkpoint, hand it batches, and on any error resubscribe
 * from the (durable) checkpoint with exponential backoff. A watchdog restarts a subscription that
 * stopped making progress while the log moved on. One runtime for read models, reactors and the relay.
 */
export class Projector {
  readonly #store: EventStore;
  readonly #subscriber: Subscriber;
  readonly #log: ProjectorLogger;
  readonly #now: () => number;
  readonly #sharedLog: SharedLogReader | undefined;
  #state: ProjectorStatus['state'] = 'starting';
  #checkpoint = -1;
  #head = -1;
  #caughtUpOnce = false;
  #handledEvents = 0;
  #retries = 0;
  #stallRestarts = 0;
  #lastError: string | undefined;
  #failedOn: FailedEvent | undefined;
  /** After a batch failed: hand events one at a time through this position, to find the one that fails. */
  #singleThrough = -1;
  /** The event that failed alone last, and how many times in a row. */
  #lastFailedAlone: { id: string; times: number } | undefined;
  #lastProgressMs = 0;
  #oldestUnhandledRecordedMs: number | undefined;
  #stopping = false;
  #current: AbortController | undefined;
  #running: Promise<void> | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  readonly #caughtUpWaiters = new Set<() => void>();

  readonly #stallTimeoutMs: number;
  readonly #watchdogIntervalMs: number;

  constructor(
    store: EventStore,
    subscriber: Subscriber,
    options: {
      logger?: ProjectorLogger;
      nowMs?: () => number;
      stallTimeoutMs?: number;
      watchdogIntervalMs?: number;
      /**
       * Where to read the log: the process's shared reader (one read and decode of each stretch for every
       * projector at that place), instead of a subscription of its own. `store` still answers the head.
       */
      sharedLog?: SharedLogReader;
    } = {},
  ) {
    this.#store = store;
    this.#sharedLog = options.sharedLog;
    this.#subscriber = subscriber;
    this.#log = options.logger ?? silentLogger;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? projectorLimits.stallTimeoutMs;
    this.#watchdogIntervalMs = options.watchdogIntervalMs ?? projectorLimits.watchdogIntervalMs;
    // Lag is operational telemetry, measured against the machine's clock on purpose.
    this.#now = options.nowMs ?? Date.now;
  }

  get name(): string {
    return this.#subscriber.name;
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#run();
    this.#watchdog = setInterval(() => void this.#checkProgress(), this.#watchdogIntervalMs);
    this.#watchdog.unref();
  }

  /** Ends a pause before resubscribing early, when the projector stops. */
  #endPause: (() => void) | undefined;

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#endPause = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Stops after the batch in hand (its checkpoint is written), then resolves; a pause before a retry ends at once. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#endPause?.();
    clearInterval(this.#watchdog);
    this.#current?.abort();
    await this.#running;
    this.#state = 'stopped';
  }

  /** Resolves once the subscriber has handled everything up to the head of the log as of this call. */
  async waitUntilCaughtUp(timeoutMs = 30_000): Promise<void> {
    await this.waitFor(await this.#store.headPosition(), timeoutMs);
  }

  /** Resolves once the subscriber has handled the event at `position` (and everything before it). */
  async waitFor(position: number, timeoutMs = 30_000): Promise<void> {
    if (this.#checkpoint >= position) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#caughtUpWaiters.delete(check);
        reject(new Error(`${this.name}: not at ${position} after ${timeoutMs} ms (at ${this.#checkpoint})`));
      }, timeoutMs);
      const check = (): void => {
        if (this.#checkpoint < position) return;
        clearTimeout(timer);
        this.#caughtUpWaiters.delete(check);
        resolve();
      };
      this.#caughtUpWaiters.add(check);
    });
  }

  async status(): Promise<ProjectorStatus> {
    this.#head = await this.#store.headPosition();
    const lagEvents = lagBehind(this.#head, this.#checkpoint);
    return {
      name: this.name,
      state: this.#state,
      checkpoint: this.#checkpoint,
      head: this.#head,
      lagEvents,
      lagMs:
        lagEvents === 0 || this.#oldestUnhandledRecordedMs === undefined
          ? 0
          : Math.max(0, this.#now() - this.#oldestUnhandledRecordedMs),
      caughtUpOnce: this.#caughtUpOnce || lagEvents === 0,
      handledEvents: this.#handledEvents,
      retries: this.#retries,
      stallRestarts: this.#stallRestarts,
      lastError: this.#lastError,
      failedOn: this.#failedOn,
    };
  }

  /** A batch failed in the subscriber (not in reading the log): find the event, or report it. */
  #batchFailed(batch: readonly RecordedEvent[], error: unknown): void {
    if (error instanceof ReadModelStoreUnavailableError || error instanceof ReadModelVersionSwitchedError) return;
    const last = batch[batch.length - 1];
    if (last === undefined) return;
    if (batch.length > 1) {
      this.#singleThrough = Math.max(this.#singleThrough, last.position);
      return;
    }
    const times = this.#lastFailedAlone?.id === last.id ? this.#lastFailedAlone.times + 1 : 1;
    this.#lastFailedAlone = { id: last.id, times };
    if (times < projectorLimits.failedEventAttempts) return;
    const failed: FailedEvent = {
      stream: last.stream,
      revision: last.revision,
      position: last.position,
      id: last.id,
      type: last.type,
      error: (error as Error).message,
    };
    if (this.#failedOn?.id !== failed.id) {
      this.#log.error({ projector: this.name, event: failed }, describeFailedEvent(this.name, failed));
      this.#recordStoppedOn(failed);
    }
    this.#failedOn = failed;
  }

  /** Keeps the event it stopped on (or that it moved past) where other processes see it; best effort. */
  #recordStoppedOn(failed: FailedEvent | undefined): void {
    writeStoppedOn(this.#store, this.name, failed).catch((error: unknown) =>
      this.#log.warn({ err: error, projector: this.name }, 'could not record the event the projection stopped on'),
    );
  }

  async #run(): Promise<void> {
    /** Failures since the last batch handled: the pause before resubscribing grows with them. */
    let failures = 0;
    /** Batches handed over that finish later (`BatchInFlight`), for this subscription. */
    let inFlight: InFlightBatches | undefined;
    while (!this.#stopping) {
      inFlight = undefined;
      const controller = new AbortController();
      this.#current = controller;
      try {
        this.#checkpoint = await this.#subscriber.loadCheckpoint();
        // A resubscription may find the work already done (the batch that failed was committed).
        for (const waiter of [...this.#caughtUpWaiters]) waiter();
        this.#lastProgressMs = this.#now();
        this.#state = 'catching-up';
        // Caught up = at the head as it was when this subscription started: a short batch only
        // means the source paused (a network store pauses mid catch-up), and under steady traffic
        // the head keeps moving, so "at the head right now" may never be seen.
        const caughtUpAt = await this.#store.headPosition();
        if (this.#checkpoint >= caughtUpAt) this.#markLive();
        // After a batch failed, events are handed one at a time up to where it ended, so the one that
        // cannot be folded is known (and everything before it is folded).
        const batchMax = this.#singleThrough > this.#checkpoint ? 1 : projectorLimits.batchEventsMax;
        const feed =
          this.#sharedLog === undefined
            ? logBatches(this.#store, {
                after: this.#checkpoint,
                maxEvents: batchMax,
                waitMs: projectorLimits.batchWaitMs,
                signal: controller.signal,
              })
            : this.#sharedLog.batches({
                after: this.#checkpoint,
                maxEvents: batchMax,
                waitMs: projectorLimits.batchWaitMs,
                signal: controller.signal,
              });
        const handled = (batch: readonly RecordedEvent[]): void => {
          if (this.#failedOn !== undefined) this.#recordStoppedOn(undefined);
          this.#failedOn = undefined;
          this.#lastFailedAlone = undefined;
          const last = batch[batch.length - 1];
          if (last !== undefined) this.#checkpoint = last.position;
          this.#handledEvents += batch.length;
          this.#lastProgressMs = this.#now();
          this.#oldestUnhandledRecordedMs = undefined;
          failures = 0;
          if (this.#checkpoint >= caughtUpAt) this.#markLive();
          for (const waiter of [...this.#caughtUpWaiters]) waiter();
        };
        inFlight = new InFlightBatches(handled, (batch, error) => {
          this.#batchFailed(batch, error);
          controller.abort(); // ends the subscription: it resubscribes from the durable checkpoint
        });
        for await (const batch of feed) {
          this.#oldestUnhandledRecordedMs ??= Date.parse(batch[0]?.recordedAt ?? '');
          let outcome: void | BatchInFlight;
          try {
            outcome = await this.#subscriber.handle(batch);
          } catch (error) {
            this.#batchFailed(batch, error);
            throw error;
          }
          if (outcome === undefined) handled(batch);
          else inFlight.add(batch, outcome.done);
          if (this.#stopping || inFlight.failure !== undefined) break;
          // Past the failed batch: back to full batches (a new subscription), once what is in flight settled.
          if (batchMax === 1 && (batch[batch.length - 1]?.position ?? -1) >= this.#singleThrough) break;
          // A turn of the event loop per batch: an embedded store answers synchronously, and a long
          // catch-up would otherwise hold the whole process (the HTTP server, timers) until it ends.
          await setImmediate();
        }
        await inFlight.settled();
        if (inFlight.failure !== undefined) throw inFlight.failure.error;
        if (batchMax === 1 && this.#checkpoint >= this.#singleThrough && !this.#stopping) {
          controller.abort();
          continue;
        }
        if (!this.#stopping && !controller.signal.aborted) throw new Error('subscription ended');
      } catch (error) {
        controller.abort(); // release the subscription this attempt opened
        await inFlight?.settled(); // a batch still in flight settles before a resubscription (or stop)
        if (this.#stopping) break;
        if (error instanceof ReadModelVersionSwitchedError) {
          // A rebuild switched readers to a new version: expected, and nothing to wait for.
          this.#log.info({ projector: this.name }, error.message);
          continue;
        }
        this.#state = this.#failedOn === undefined ? 'retrying' : 'failed';
        this.#retries++;
        this.#lastError = (error as Error).message;
        const pauseMs = backoffMs(++failures, retryBackoff);
        // A store that is briefly out of reach (a rebuild holding the embedded file's write lock, a
        // MongoDB failover) is expected to come back: a warning, not an error.
        if (error instanceof ReadModelStoreUnavailableError)
          this.#log.warn({ err: error, projector: this.name, backoffMs: pauseMs }, 'read-model store unavailable; retrying');
        else
          this.#log.error(
            { err: error, projector: this.name, backoffMs: pauseMs },
            'projector failed; resubscribing from its checkpoint',
          );
        await this.#pause(pauseMs);
      }
    }
  }

  #markLive(): void {
    if (this.#state !== 'live') this.#log.info({ projector: this.name, checkpoint: this.#checkpoint }, 'projector is live');
    this.#state = 'live';
    this.#caughtUpOnce = true;
  }

  /** The watchdog: a subscription that stopped moving while the log is ahead is restarted. */
  async #checkProgress(): Promise<void> {
    try {
      const head = await this.#store.headPosition();
      this.#head = head;
      if (head <= this.#checkpoint) {
        this.#lastProgressMs = this.#now();
        if (this.#state === 'catching-up') this.#markLive();
        return;
      }
      if (this.#now() - this.#lastProgressMs > this.#stallTimeoutMs) {
        this.#log.warn(
          { projector: this.name, checkpoint: this.#checkpoint, head },
          'projector stalled; restarting its subscription',
        );
        this.#lastProgressMs = this.#now();
        this.#stallRestarts++;
        this.#current?.abort();
      }
    } catch {
      // The store is unreachable; the subscription will notice and retry on its own.
    }
  }
}
