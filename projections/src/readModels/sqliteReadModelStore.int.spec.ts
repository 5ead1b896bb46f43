import { join } from 'node:path';
import { afterAll } from 'vitest';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/tempDir.js';
import { runReadModelStoreContract } from './readModelStore.contract.js';
import { SqliteReadModelStore } from './sqliteReadModelStore.js';

afterAll(removeTempDirs);

runReadModelStoreContract('SQLite', () => {
  const store = new SqliteReadModelStore(join(tempDir(), 'readmodels.db'));
  return Promise.resolve({ store, cleanup: () => store.close() });
});
