import { join } from 'node:path';
import { SqliteEventStore } from '../../../ledger/src/eventStore/sqlite/sqliteEventStore.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModels } from '../readModels/sqliteReadModels.js';
import { Projector } from '../runtime/projector.js';

/**
 * A projector in a process of its own, for crash tests: runs account_balances over the data directory
 * given as argv[2], printing its checkpoint after every batch, and exits once level with the log.
 */
const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: projectorProcess <dataDir>');
const store = new SqliteEventStore({ path: join(dir, 'events.db'), backgroundCheckpoints: false });
const models = new SqliteReadModels(join(dir, 'readmodels.db'));
const balances = new AccountBalancesProjection(models);
const reporting = {
  name: balances.name,
  loadCheckpoint: () => balances.loadCheckpoint(),
  handle: async (batch: Parameters<AccountBalancesProjection['handle']>[0]) => {
    await balances.handle(batch);
    process.stdout.write(`checkpoint ${batch.at(-1)?.position ?? -1}\n`);
  },
};
const projector = new Projector(store, reporting);
projector.start();
await projector.waitUntilCaughtUp(120_000);
await projector.stop();
models.close();
await store.close();
process.stdout.write('done\n');
