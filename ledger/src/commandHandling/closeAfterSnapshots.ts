import type { EventStore } from '../eventStore/eventStore.js';
import type { AccountCommandHandler } from './accountCommandHandler.js';

/**
 * Shutdown's last step for a process that runs commands: waits for the account snapshots the handler
 * is writing behind its commands, then closes the event store, so a snapshot in flight is not cut
 * (a store that is closing refuses writes: the snapshot would be lost, and the next cold load of that
 * account would fold up to `eventsPerSnapshot` more events).
 */
export const closeAfterSnapshots = async (handler: AccountCommandHandler, store: EventStore): Promise<void> => {
  await handler.snapshotsSettled();
  await store.close();
};
