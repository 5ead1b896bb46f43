/** What the wait for the next item settles with when the source stayed quiet for `waitMs`. */
const quiet = Symbol('quiet');

/**
 * Groups an async stream of items into batches: a batch is handed on when it is full, or when the
 * source has nothing more to give within `waitMs` (so a live tail is processed promptly, and a
 * catch-up is processed in large batches). Pulls the next item only when the consumer asks for the
 * next batch, so back-pressure reaches the source.
 *
 * A catch-up hands over an item every few microseconds, so the quiet period costs one timer per batch,
 * not one per item: the timer is armed with the batch's first item and, when it fires, re-armed for
 * what is left of `waitMs` after the last item if items came meanwhile. Each wait for an item is one
 * promise settled by the item or by that timer (no `Promise.race` and no timeout promise per item).
 */
export async function* batches<T>(
  source: AsyncIterable<T>,
  maxItems: number,
  waitMs: number,
): AsyncGenerator<T[], void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let batch: T[] = [];
  let pending: Promise<IteratorResult<T>> | undefined;
  /** Settles the wait in progress with `quiet` (set only while the generator waits for an item of a partial batch). */
  let wake: ((outcome: typeof quiet) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastItemMs = 0;
  const onTimer = (): void => {
    const sinceMs = performance.now() - lastItemMs;
    if (sinceMs < waitMs) {
      timer = setTimeout(onTimer, waitMs - sinceMs);
      return;
    }
    timer = undefined;
    wake?.(quiet);
  };
  const endBatch = (): T[] => {
    const full = batch;
    batch = [];
    clearTimeout(timer);
    timer = undefined;
    return full;
  };
  try {
    for (;;) {
      const next = (pending ??= iterator.next());
      let outcome: IteratorResult<T> | typeof quiet;
      if (batch.length === 0) outcome = await next;
      else {
        outcome = await new Promise<IteratorResult<T> | typeof quiet>((resolve, reject) => {
          wake = resolve;
          next.then(resolve, reject);
        });
        wake = undefined;
      }
      if (outcome === quiet) {
        yield endBatch();
        continue;
      }
      pending = undefined;
      if (outcome.done === true) {
        if (batch.length > 0) yield endBatch();
        return;
      }
      batch.push(outcome.value);
      lastItemMs = performance.now();
      if (batch.length >= maxItems) yield endBatch();
      else if (timer === undefined) timer = setTimeout(onTimer, waitMs);
    }
  } finally {
    clearTimeout(timer);
    // With a next() still in flight, return() would queue behind it and wait for an item that may
    // never come; the owner ends the source (aborts its subscription) instead, and this settles then.
    if (pending === undefined) await iterator.return?.();
    else void pending.then(() => iterator.return?.()).catch(() => undefined);
  }
}
