import { join } from 'node:path';
import type { EventStore } from './eventStore.js';
import { SqliteEventStore } from './sqlite/sqliteEventStore.js';

/**
 * The engine is chosen by configuration: EventStoreDB/KurrentDB when a connection string is given,
 * otherwise the embedded SQLite file `events.db` in the data directory. The ESDB client is loaded
 * only when it is used.
 */
export const openEventStore = async (options: { eventStoreUrl: string | undefined; dataDir: string }): Promise<EventStore> => {
  if (options.eventStoreUrl !== undefined && options.eventStoreUrl !== '') {
    const { EsdbEventStore } = await import('./esdb/esdbEventStore.js');
    return EsdbEventStore.fromConnectionString(options.eventStoreUrl);
  }
  return new SqliteEventStore({ path: join(options.dataDir, 'events.db') });
};
