import type { EventStore, RecordedEvent } from '../../../ledger/src/index.js';
import { batches } from './batches.js';

/**
 * A projector's batches when it reads the log on its own (no shared reader): the events after
 * `after`, in log order, at most `maxEvents` a batch, ending when `signal` aborts.
 *
 * While the log has whole batches ahead (a catch-up, a restart far behind), each batch is one
 * `readAll` page: one read and no await per event. At the first page that is not full the log is near
 * its head, and the subscription takes over from the end of the last full page, through `batches`
 * (a partial batch is handed on after `waitMs` of quiet): the short page is read again there, so a
 * live tail is batched exactly as before. Errors of either read end the feed, as a subscription's do.
 */
export async function* logBatches(
  store: EventStore,
  options: { after: number; maxEvents: number; waitMs: number; signal: AbortSignal },
): AsyncGenerator<RecordedEvent[], void, undefined> {
  const { maxEvents, waitMs, signal } = options;
  let after = options.after;
  while (!signal.aborted) {
    const page = await store.readAll({ after, maxCount: maxEvents });
    const last = page[page.length - 1];
    if (last === undefined || page.length < maxEvents || signal.aborted) break;
    yield page;
    after = last.position;
  }
  if (signal.aborted) return;
  yield* batches(store.subscribeToAll({ after, signal }), maxEvents, waitMs);
}
