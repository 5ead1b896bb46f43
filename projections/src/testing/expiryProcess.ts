import { join } from 'node:path';
import { AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../ledger/src/index.js';
import { BoostExpiryScheduler } from '../expiry/boostExpiryScheduler.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { Projector } from '../runtime/projector.js';

/**
 * An expiry scheduler in a process of its own, for crash tests: brings its pending set up to date,
 * then expires everything due at the instant given as argv[3], printing each expiry, and exits.
 */
const [dir, now] = process.argv.slice(2);
if (dir === undefined || now === undefined) throw new Error('usage: expiryProcess <dataDir> <nowIso>');
const store = new SqliteEventStore({ path: join(dir, 'events.db'), backgroundCheckpoints: false });
const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
const scheduler = new BoostExpiryScheduler({
  store: models,
  handler: new AccountCommandHandler(store),
  clock: new ManualClock(now),
  onExpired: (outcome) => process.stdout.write(`expired ${outcome.boostId}\n`),
});
const projector = new Projector(store, scheduler);
projector.start();
await projector.waitUntilCaughtUp(60_000);
await projector.stop();
await scheduler.expireDue();
await models.close();
await store.close();
process.stdout.write('done\n');
