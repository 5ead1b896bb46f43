/**
 * Groups an async stream of items into batches: a batch is handed on when it is full, or when the
 * source has nothing more to give within `waitMs` (so a live tail is processed promptly, and a
 * catch-up is processed in large batches). Pulls the next item only when the consumer asks for the
 * next batch, so back-pressure reaches the source.
 */
export async function* batches<T>(
  source: AsyncIterable<T>,
  maxItems: number,
  waitMs: number,
): AsyncGenerator<T[], void, undefined> {
  const iterator = source[Symbol.asyncIterator]();
  let batch: T[] = [];
  let pending: Promise<IteratorResult<T>> | undefined;
  try {
    for (;;) {
      pending ??= iterator.next();
      let next: IteratorResult<T> | 'timeout';
      if (batch.length === 0) {
        next = await pending;
      } else {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), waitMs);
        });
        next = await Promise.race([pending, timeout]);
        clearTimeout(timer);
      }
      if (next === 'timeout') {
        yield batch;
        batch = [];
        continue;
      }
      pending = undefined;
      if (next.done === true) {
        if (batch.length > 0) yield batch;
        return;
      }
      batch.push(next.value);
      if (batch.length >= maxItems) {
        yield batch;
        batch = [];
      }
    }
  } finally {
    // With a next() still in flight, return() would queue behind it and wait for an item that may
    // never come; the owner ends the source (aborts its subscription) instead, and this settles then.
    if (pending === undefined) await iterator.return?.();
    else void pending.then(() => iterator.return?.()).catch(() => undefined);
  }
}
