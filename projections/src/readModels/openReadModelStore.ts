import { join } from 'node:path';
import type { ReadModelStore } from './readModelStore.js';
import { SqliteReadModelStore } from './sqliteReadModelStore.js';

/**
 * The read-model store the configuration names: MongoDB when `mongodbUrl` is set (one database per
 * service), otherwise the embedded SQLite file `readmodels.db` in the data directory.
 */
export const openReadModelStore = async (options: {
  dataDir: string;
  mongodbUrl?: string | undefined;
  /** Embedded engine: how long a write waits for another process's write lock (default: the store's). */
  lockWaitMs?: number;
}): Promise<ReadModelStore> => {
  if (options.mongodbUrl !== undefined && options.mongodbUrl !== '') {
    // Loaded only when configured: the embedded default never touches the driver.
    const { MongoReadModelStore } = await import('./mongo/mongoReadModelStore.js');
    return MongoReadModelStore.connect(options.mongodbUrl);
  }
  return new SqliteReadModelStore(
    join(options.dataDir, 'readmodels.db'),
    options.lockWaitMs === undefined ? {} : { lockWaitMs: options.lockWaitMs },
  );
};
