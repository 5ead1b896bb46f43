import { join } from 'node:path';
import { Command } from 'commander';
import { openEventStore } from '../../../ledger/src/eventStore/openEventStore.js';
import { loadConfig } from '../../../gateway/src/config.js';
import { SqliteReadModels } from '../readModels/sqliteReadModels.js';

/** The projections that keep a checkpoint in the read-model database. */
const projectionNames = ['account_balances', 'service_read_models', 'gig_payment_settlement'] as const;

const program = new Command().name('npm run projections --').description('Inspect the projections');

program
  .command('status')
  .description('each projection with its checkpoint and lag')
  .option('--json', 'machine-readable output')
  .action(async (options: { json?: boolean }) => {
    const config = loadConfig();
    const store = await openEventStore({ eventStoreUrl: config.eventStoreUrl, dataDir: config.dataDir });
    const models = new SqliteReadModels(join(config.dataDir, 'readmodels.db'));
    try {
      const head = await store.headPosition();
      const rows = projectionNames.map((name) => {
        const checkpoint = models.checkpoint(name);
        return { name, checkpoint, head, lagEvents: Math.max(0, head - Math.max(checkpoint, 0)) };
      });
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      console.log(`log head: ${head} (${store.engine})`);
      for (const row of rows)
        console.log(`${row.name.padEnd(26)} checkpoint ${String(row.checkpoint).padStart(10)}   lag ${row.lagEvents} events`);
    } finally {
      models.close();
      await store.close();
    }
  });

await program.parseAsync();
