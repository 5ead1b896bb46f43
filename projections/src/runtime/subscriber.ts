import type { RecordedEvent } from '../../../ledger/src/index.js';

// The projection runtime's port: what a subscriber implements (and may hand back), and what a projector
// reports about the one it runs. Apart from the runtime (projector.ts), so that a subscriber, a status
// reader or the record of a stopped projection depends on these types and not on the runtime itself.
/**
 * Something that follows the log from a durable checkpoint: a read model, a reactor, the relay.
 * `handle` must make the batch's effects and the new checkpoint durable together (one transaction),
 * or make its effects idempotent (a reactor's commands carry idempotency keys), so that a crash
 * anywhere repeats nothing and loses nothing.
 */
export interface Subscriber {
  readonly name: string;
  /** Position of the last event fully handled; -1 to start from the beginning. */
  loadCheckpoint(): Promise<number>;
  /**
   * Handles a batch (in log order) and records its last position as the checkpoint. It may instead
   * return a `BatchInFlight`: the batch is taken and finishes later (see there).
   */
  handle(batch: readonly RecordedEvent[]): Promise<void | BatchInFlight>;
}

/**
 * What `handle` returns for a batch it finishes after returning (the relay returns once a batch is
 * published; the broker confirms it while the next batch is published). The projector counts the
 * batch handled (checkpoint, lag, `waitFor`, live) only once `done` resolves, in log order; if `done`
 * rejects, the subscription ends and resubscribes from the durable checkpoint, as if `handle` had
 * thrown; `stop()` waits for every batch in flight. The subscriber records the checkpoint itself,
 * only past batches whose `done` resolved, and its `loadCheckpoint` waits for batches in flight.
 */
export interface BatchInFlight {
  readonly done: Promise<void>;
}

/** The event a projection cannot fold and stays at (it retries it with backoff, never skips it). */
export interface FailedEvent {
  readonly stream: string;
  readonly revision: number;
  readonly position: number;
  readonly id: string;
  readonly type: string;
  /** The error folding it raised. */
  readonly error: string;
}

/** One line naming a projection stopped on an event: for /ready, the 503 answers and the logs. */
export const describeFailedEvent = (projection: string, failed: FailedEvent): string =>
  `${projection} stopped on event ${failed.id} (${failed.type}, stream ${failed.stream}, revision ${failed.revision}, position ${failed.position}): ${failed.error}`;

export interface ProjectorStatus {
  readonly name: string;
  readonly state: 'starting' | 'catching-up' | 'live' | 'retrying' | 'failed' | 'stopped';
  readonly checkpoint: number;
  readonly head: number;
  /** Events between the checkpoint and the head of the log. */
  readonly lagEvents: number;
  /** How long the oldest unhandled event has waited (0 when caught up). */
  readonly lagMs: number;
  /** True once the subscriber has been level with the log at least once since it started. */
  readonly caughtUpOnce: boolean;
  readonly handledEvents: number;
  /** Times the subscription was restarted after an error. */
  readonly retries: number;
  /** Times the watchdog restarted a subscription that had stopped making progress. */
  readonly stallRestarts: number;
  readonly lastError: string | undefined;
  /** The event it cannot fold, while it is stopped on one (state `failed`). */
  readonly failedOn?: FailedEvent | undefined;
}

export interface ProjectorLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/**
 * How far a checkpoint is behind the head of the log. Positions are dense on the embedded store (so
 * this counts events) and byte offsets on EventStoreDB (so there it is a distance, zero exactly when
 * caught up).
 */
export const lagBehind = (head: number, checkpoint: number): number => Math.max(0, head - Math.max(checkpoint, 0));
