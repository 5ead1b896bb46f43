import type { RelayCheckpoint } from '../relayCheckpoint.js';

/**
 * Saves the relay's checkpoint behind the publishing: the newest position only, one save at a time and
 * at most one per `intervalMs`, so the fsync stays off the path of the next batch and off the event
 * loop most of the time. Every position handed to it was confirmed; a crash before a save only means
 * republishing (with the same messageIds) what it would have covered. A failed save is thrown by the
 * next `save` or `flush` (the relay then fails a batch and the runtime resubscribes).
 */
export class CheckpointSaver {
  readonly #checkpoint: RelayCheckpoint;
  readonly #intervalMs: number;
  readonly #onError: (error: unknown) => void;
  #pending: number | undefined;
  #saving: Promise<void> | undefined;
  #error: Error | undefined;
  #lastSaveMs = Number.NEGATIVE_INFINITY;
  /** Flushes waiting: save without waiting for the interval. */
  #flushing = 0;
  /** Ends the wait for the interval at once. */
  #hurry: (() => void) | undefined;

  constructor(checkpoint: RelayCheckpoint, intervalMs: number, onError: (error: unknown) => void) {
    this.#checkpoint = checkpoint;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  /** Hands over a confirmed position; throws if an earlier save failed. */
  save(position: number): void {
    this.#throwError();
    this.#pending = position;
    this.#saving ??= this.#loop();
  }

  /** Resolves once every position handed over is saved, without waiting for the interval; rejects if a save failed. */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      this.#hurry?.();
      await this.#saving;
    } finally {
      this.#flushing--;
    }
    this.#throwError();
  }

  #throwError(): void {
    const error = this.#error;
    this.#error = undefined;
    if (error !== undefined) throw error;
  }

  async #loop(): Promise<void> {
    for (;;) {
      const waitMs = this.#lastSaveMs + this.#intervalMs - Date.now();
      if (waitMs > 0 && this.#flushing === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.#hurry = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#hurry = undefined;
      }
      const position = this.#pending;
      this.#pending = undefined;
      if (position === undefined) break;
      this.#lastSaveMs = Date.now();
      try {
        await this.#checkpoint.save(position);
      } catch (error) {
        this.#error = error as Error;
        this.#onError(error);
      }
      if (this.#pending === undefined) break;
    }
    this.#saving = undefined;
  }
}
