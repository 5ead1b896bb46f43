import { join } from 'node:path';
import { SqliteEventStore } from '../../../ledger/src/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';
import { Projector } from '../runtime/projector.js';

/**
 * Projectors in a process of their own, for crash tests: runs account_balances and the services' read
 * models over the data directory given as argv[2], printing account_balances' checkpoint after every
 * batch, and exits once both are level with the log.
 *
 * With argv[3] = a position, it stalls for good a few batches after its checkpoint passes that position
 * (keeping the process alive), so a parent that sends SIGKILL when it reads that checkpoint always finds the
 * process still running: the kill lands somewhere in those next batches, mid-transaction or between two,
 * but never after the projector has finished on its own (which made the test flaky on a busy machine).
 * Told to stall, it never exits by itself.
 */
const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: projectorProcess <dataDir> [stallAfterPosition]');
const stallAfter = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
const batchesBeforeStall = 3;
const store = new SqliteEventStore({ path: join(dir, 'events.db'), backgroundCheckpoints: false });
const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
const balances = new AccountBalancesProjection(models);
let batchesPastMark = 0;
const stallForGood = async (): Promise<never> => {
  setInterval(() => undefined, 60_000); // keeps the event loop alive until the parent's SIGKILL
  return new Promise<never>(() => undefined);
};
const reporting = {
  name: balances.name,
  loadCheckpoint: () => balances.loadCheckpoint(),
  handle: async (batch: Parameters<AccountBalancesProjection['handle']>[0]) => {
    if (stallAfter !== undefined && batchesPastMark >= batchesBeforeStall) await stallForGood();
    await balances.handle(batch);
    const checkpoint = batch.at(-1)?.position ?? -1;
    if (stallAfter !== undefined && checkpoint >= stallAfter) batchesPastMark++;
    process.stdout.write(`checkpoint ${checkpoint}\n`);
  },
};
// Where it starts, so a parent waiting for a mark the last run already passed kills it at once.
process.stdout.write(`checkpoint ${await balances.loadCheckpoint()}\n`);
const logger = {
  info: () => undefined,
  warn: (object: object, message: string) => process.stderr.write(`${message} ${JSON.stringify(object)}\n`),
  error: (object: object, message: string) =>
    process.stderr.write(
      `${message} ${JSON.stringify(object, (_key, value: unknown) => (value instanceof Error ? value.stack : value))}\n`,
    ),
};
const projectors = [
  new Projector(store, reporting, { logger }),
  new Projector(store, new ServiceReadModelsProjection(models), { logger }),
];
for (const projector of projectors) projector.start();
for (const projector of projectors) await projector.waitUntilCaughtUp(120_000);
// Told to wait for a kill, it never finishes on its own, even when the mark was in the last batches.
if (stallAfter !== undefined) await stallForGood();
for (const projector of projectors) await projector.stop();
await models.close();
await store.close();
process.stdout.write('done\n');
