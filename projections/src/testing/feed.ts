import { type EventStore } from '../../../ledger/src/index.js';
import { logBatches } from '../../../ledger/src/testing/index.js';
import type { Subscriber } from '../runtime/subscriber.js';

/** Hands a subscriber everything after its checkpoint: the runtime's job, done by hand in given/when/then tests. */
export const feed = async (store: EventStore, subscriber: Subscriber): Promise<void> => {
  for await (const batch of logBatches(store, await subscriber.loadCheckpoint())) await subscriber.handle(batch);
};
