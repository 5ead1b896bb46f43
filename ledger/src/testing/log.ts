import type { EventStore, RecordedEvent } from '../eventStore/eventStore.js';

/** The whole log after `after`, batch by batch, in log order (tests and benchmarks). */
export async function* logBatches(store: EventStore, after = -1): AsyncGenerator<RecordedEvent[], void, undefined> {
  for (let position = after; ;) {
    const batch = await store.readAll({ after: position });
    if (batch.length === 0) return;
    yield batch;
    position = batch[batch.length - 1]?.position ?? position;
  }
}

/** Every event of the log (or only those of `type`), read in bounded batches. */
export const readWholeLog = async (store: EventStore, type?: string): Promise<RecordedEvent[]> => {
  const events: RecordedEvent[] = [];
  for await (const batch of logBatches(store))
    events.push(...(type === undefined ? batch : batch.filter((e) => e.type === type)));
  return events;
};
