import type { RecordedEvent } from '../../../ledger/src/index.js';

/**
 * Batches a subscriber took and finishes later (`BatchInFlight`), settled in log order: each is
 * reported handled once its own `done` and every earlier one resolved; the first that rejects is
 * reported failed, and nothing after it is reported handled (the subscription resubscribes from the
 * durable checkpoint). `settled()` waits for every batch added, failed or not.
 */
export class InFlightBatches {
  readonly #handled: (batch: readonly RecordedEvent[]) => void;
  readonly #failed: (batch: readonly RecordedEvent[], error: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #failure: { readonly error: unknown } | undefined;

  constructor(
    handled: (batch: readonly RecordedEvent[]) => void,
    failed: (batch: readonly RecordedEvent[], error: unknown) => void,
  ) {
    this.#handled = handled;
    this.#failed = failed;
  }

  /** The first batch that failed, once one has. */
  get failure(): { readonly error: unknown } | undefined {
    return this.#failure;
  }

  add(batch: readonly RecordedEvent[], done: Promise<void>): void {
    const outcome = done.then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    this.#tail = this.#tail.then(async () => {
      const result = await outcome;
      if (this.#failure !== undefined) return;
      if (result === undefined) this.#handled(batch);
      else {
        this.#failure = result;
        this.#failed(batch, result.error);
      }
    });
  }

  /** Resolves once every batch added has settled (never rejects). */
  settled(): Promise<void> {
    return this.#tail;
  }
}
