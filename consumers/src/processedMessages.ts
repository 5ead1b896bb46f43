/**
 * The dedupe port: which messageIds a service has already handled, kept durably in the service's own
 * store. The relay may publish a message twice (after a crash or a lost confirm), always with the same
 * messageId; a consumer that records ids here handles each one once.
 *
 * `Tx` is what the handler writes its own effects through. An adapter whose store has transactions
 * (SQLite; MongoDB on a replica set) passes a transaction and records the messageId in it, so the
 * effects and the record commit together or not at all: exactly-once effects. Without one (`Tx` is
 * `undefined`), the id is recorded after the handler succeeded: a crash in between repeats the handler
 * once, so such handlers must be idempotent (guard writes by the event's position, as the projections do).
 */
export interface ProcessedMessages<Tx> {
  /** True when `messageId` was recorded as processed. */
  has(messageId: string): Promise<boolean>;
  /**
   * Runs `handle` unless `messageId` is recorded already, and records it once `handle` succeeded.
   * Resolves 'duplicate' without calling `handle` for a recorded id. When `handle` throws, nothing is
   * recorded (and, with a transaction, its writes through `tx` are rolled back) and `processOnce` rejects
   * with a HandlerFailedError whose `cause` is the handler's error; any other rejection is the store's.
   */
  processOnce(messageId: string, handle: (tx: Tx) => Promise<void>): Promise<ProcessOutcome>;
  close(): Promise<void>;
}

export type ProcessOutcome = 'processed' | 'duplicate';

/**
 * Thrown by `processOnce` when the handler itself failed (as opposed to the store), with the handler's
 * error as `cause`: the consumer retries and then dead-letters the first kind, and requeues the second.
 */
export class HandlerFailedError extends Error {
  override readonly name = 'HandlerFailedError';
  constructor(cause: unknown) {
    super(`handler failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Runs a handler, marking its failure as the handler's (see HandlerFailedError). */
export const runHandler = async <Tx>(handle: (tx: Tx) => Promise<void>, tx: Tx): Promise<void> => {
  try {
    await handle(tx);
  } catch (error) {
    throw error instanceof HandlerFailedError ? error : new HandlerFailedError(error);
  }
};
