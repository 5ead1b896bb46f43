import { setImmediate } from 'node:timers/promises';
import type { EventStore, RecordedEvent } from '../../../ledger/src/index.js';

/** Limits of the shared log reader, in one place. */
export const sharedLogLimits = {
  /**
   * Events kept behind the shared tail, for projectors a little behind the fastest one (one is folding
   * a batch while the others move on). A projector further behind reads on its own until it is back in.
   */
  windowEventsMax: 5000,
  /** Most events one read of the shared tail gathers before handing them on (and the loop gets a turn). */
  burstEventsMax: 1000,
} as const;

/** What the reader did, for tests and the workers' measurements. */
export interface SharedLogStats {
  /** Events the shared tail read (and decoded) from the log, once for every projector. */
  readonly tailEvents: number;
  /** Events handed to projectors from the shared window. */
  readonly sharedEvents: number;
  /** Events read by a projector on its own (behind the window: a catch-up, a rebuild, a restart). */
  readonly ownEvents: number;
  /** Times the tail's subscription was opened (at start, after an error, a jump or a stall). */
  readonly tailOpens: number;
}

interface TailSource {
  readonly iterator: AsyncIterator<RecordedEvent>;
  readonly controller: AbortController;
  /** A `next()` that has not settled yet (the log was quiet when the last burst ended). */
  pending: Promise<IteratorResult<RecordedEvent>> | undefined;
}

const turnOver = Symbol('turn over');

/**
 * Reads and decodes each stretch of the log once for every projector of a process: ONE subscription
 * (the shared tail) follows the log, and what it reads is kept in a bounded window that every projector
 * at that place is served from. Each projector still asks from its own checkpoint, so it keeps its own
 * batches, failures, retries and resubscriptions:
 *
 * - at the end of the tail: it waits for the tail's next burst (one read for all who wait);
 * - inside the window: it gets a slice of it (no read at all);
 * - behind the window (a catch-up, a restart from an old checkpoint, a rebuilt read model): it reads on its
 *   own with `readAll`, stopping where the window starts, and joins the window there;
 * - ahead of the tail (its checkpoint is past everything read so far): the tail moves to it.
 *
 * The tail reads only when a projector waits at its end, so the fastest projector sets the pace and a
 * slow one falls back to reading on its own instead of holding the others or memory.
 */
export class SharedLogReader {
  readonly #store: EventStore;
  readonly #windowEventsMax: number;
  /** Events in log order: the log from just after `#windowAfter` through `#tailEnd`, with nothing left out. */
  #window: RecordedEvent[] = [];
  #windowAfter = -1;
  /** Position of the last event the tail read (or where it starts); undefined before the first reader. */
  #tailEnd: number | undefined;
  #source: TailSource | undefined;
  #burst: Promise<void> | undefined;
  #closed = false;
  #stats = { tailEvents: 0, sharedEvents: 0, ownEvents: 0, tailOpens: 0 };

  constructor(store: EventStore, options: { windowEventsMax?: number } = {}) {
    this.#store = store;
    this.#windowEventsMax = options.windowEventsMax ?? sharedLogLimits.windowEventsMax;
  }

  stats(): SharedLogStats {
    return { ...this.#stats };
  }

  /**
   * The events strictly after `after`, in log order, at most `maxEvents` of them: at once when any are
   * known, else once the log has more. Empty only when `signal` aborts (or the reader is closed).
   */
  read(after: number, maxEvents: number, signal: AbortSignal): Promise<RecordedEvent[]> {
    return this.#read(after, maxEvents, signal, true);
  }

  /** `read`; `abortDropsTail` false for a wait that ends by design (a batch's quiet period), not a stall. */
  async #read(after: number, maxEvents: number, signal: AbortSignal, abortDropsTail: boolean): Promise<RecordedEvent[]> {
    for (;;) {
      if (signal.aborted || this.#closed) return [];
      if (this.#tailEnd === undefined || after > this.#tailEnd) this.#moveTail(after);
      const tailEnd = this.#tailEnd as number;
      if (after < this.#windowAfter) {
        // Stop where the window starts (positions are dense on the embedded store), to join it there.
        const own = await this.#store.readAll({ after, maxCount: Math.max(1, Math.min(maxEvents, this.#windowAfter - after)) });
        this.#stats.ownEvents += own.length;
        if (own.length > 0) return own;
        // Nothing after `after` although the tail is past it: only a log that lost events does this; wait for more.
      } else if (after < tailEnd) {
        const start = this.#firstAfter(after);
        const slice = this.#window.slice(start, start + maxEvents);
        this.#stats.sharedEvents += slice.length;
        if (slice.length > 0) return slice;
      }
      await this.#nextBurst(signal, abortDropsTail);
    }
  }

  /**
   * `read` as a stream of batches from `after` on, ending when `signal` aborts; the Projector's feed. A
   * batch that is not full and reached the end of the tail waits up to `waitMs` for more (as a
   * subscription's batches do), so a live tail under steady appends is folded in batches, not event by event.
   */
  async *batches(options: {
    after: number;
    maxEvents: number;
    waitMs?: number;
    signal: AbortSignal;
  }): AsyncGenerator<RecordedEvent[]> {
    const { maxEvents, signal } = options;
    const waitMs = options.waitMs ?? 0;
    let after = options.after;
    for (;;) {
      let batch = await this.read(after, maxEvents, signal);
      let last = batch[batch.length - 1];
      if (last === undefined) return;
      while (waitMs > 0 && batch.length < maxEvents && last.position === this.#tailEnd && !signal.aborted) {
        const more = await this.#readWithin(last.position, maxEvents - batch.length, waitMs, signal);
        const lastMore = more[more.length - 1];
        if (lastMore === undefined) break;
        batch = batch.concat(more);
        last = lastMore;
      }
      yield batch;
      after = last.position;
    }
  }

  /**
   * `read` that gives up after `waitMs` (empty). A timer and a listener of its own rather than
   * `AbortSignal.any`, which would attach one more dependent signal per batch to the long-lived `signal`.
   */
  async #readWithin(after: number, maxEvents: number, waitMs: number, signal: AbortSignal): Promise<RecordedEvent[]> {
    const timed = new AbortController();
    const end = (): void => timed.abort();
    const timer = setTimeout(end, waitMs);
    signal.addEventListener('abort', end, { once: true });
    try {
      return await this.#read(after, maxEvents, timed.signal, false);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', end);
    }
  }

  /** Ends the tail's subscription; readers waiting at the tail get an empty answer. */
  close(): void {
    this.#closed = true;
    this.#dropSource();
  }

  /** Index of the first window event after `after` (which is at or inside the window). */
  #firstAfter(after: number): number {
    let low = 0;
    let high = this.#window.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#window[middle] as RecordedEvent).position <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Restarts the tail at `after` with an empty window (a reader is past everything read so far). */
  #moveTail(after: number): void {
    this.#dropSource();
    this.#window = [];
    this.#windowAfter = after;
    this.#tailEnd = after;
  }

  #dropSource(): void {
    this.#source?.controller.abort();
    this.#source = undefined;
  }

  /**
   * Waits for the tail's next burst (one for every reader waiting). A wait that is aborted (the
   * projector stops, or its watchdog found it stalled) drops the tail's subscription, so a stalled one
   * is replaced: the next burst opens a new one where the tail ends.
   */
  async #nextBurst(signal: AbortSignal, abortDropsTail: boolean): Promise<void> {
    this.#burst ??= this.#pump().finally(() => {
      this.#burst = undefined;
    });
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => {
        if (abortDropsTail) this.#dropSource();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([this.#burst, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort as () => void);
    }
  }

  #open(after: number): TailSource {
    const controller = new AbortController();
    this.#stats.tailOpens++;
    const iterable = this.#store.subscribeToAll({ after, signal: controller.signal });
    return { iterator: iterable[Symbol.asyncIterator](), controller, pending: undefined };
  }

  /** `next()` on the tail's subscription, kept until it settles (its failure is the next burst's, never unhandled). */
  #next(source: TailSource): Promise<IteratorResult<RecordedEvent>> {
    if (source.pending === undefined) {
      source.pending = source.iterator.next();
      source.pending.catch(() => undefined);
    }
    return source.pending;
  }

  /** One burst: waits for the next event after the tail, then takes every event the log already has (bounded). */
  async #pump(): Promise<void> {
    const source = (this.#source ??= this.#open(this.#tailEnd ?? -1));
    try {
      const first = await this.#next(source);
      source.pending = undefined;
      if (source !== this.#source) return; // the tail moved, was dropped or closed meanwhile
      if (first.done === true) throw new Error('the log subscription ended');
      const events = [first.value];
      // What the subscription can hand on within this turn of the event loop is in the log already;
      // past it, the subscription is waiting for appends, and the burst ends.
      const turn = setImmediate(turnOver);
      while (events.length < sharedLogLimits.burstEventsMax) {
        const next = await Promise.race([this.#next(source), turn]);
        if (next === turnOver) break;
        source.pending = undefined;
        if (next.done === true) break; // the next burst reports it
        events.push(next.value);
      }
      if (source !== this.#source) return;
      this.#take(events);
    } catch (error) {
      if (source === this.#source) this.#dropSource();
      throw error;
    }
  }

  #take(events: readonly RecordedEvent[]): void {
    for (const event of events) this.#window.push(event);
    this.#tailEnd = (events[events.length - 1] as RecordedEvent).position;
    this.#stats.tailEvents += events.length;
    const excess = this.#window.length - this.#windowEventsMax;
    if (excess > 0) {
      this.#windowAfter = (this.#window[excess - 1] as RecordedEvent).position;
      this.#window.splice(0, excess);
    }
  }
}
