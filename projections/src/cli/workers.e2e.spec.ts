import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AccountCommandHandler, SqliteEventStore, systemClock } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';

afterAll(removeTempDirs);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('npm run workers (projections/src/cli/workers.ts), on its own', () => {
  it('stays up with nothing to do, folds what another process appends, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDir();
    // No IPC channel: as `npm run workers` or a container runs it.
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'workers.ts')], {
      env: { ...process.env, EVENTSTORE_URL: '', MONGODB_URL: '', AMQP_URL: '', LEDGER_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!output.includes('workers running')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the workers did not start: ${output}`);
      await sleep(20);
    }
    // Idle for a while (the projectors' timers alone would let the process end).
    await sleep(1500);
    expect(child.exitCode).toBeNull();

    const store = new SqliteEventStore({ path: join(dataDir, 'events.db'), backgroundCheckpoints: false });
    await new AccountCommandHandler(store).execute(
      'alone',
      { type: 'PurchaseCredits', amount: 42, paymentRef: 'p', now: systemClock.now() },
      { actor: 'test', correlationId: 'c', causationId: 'c' },
    );
    await store.close();
    const models = new SqliteReadModelStore(join(dataDir, 'readmodels.db'));
    try {
      const balances = new AccountBalancesProjection(models);
      while ((await balances.balanceOf('alone').catch(() => undefined))?.balance !== 42n) {
        if (Date.now() > deadline + 60_000) throw new Error('the workers never folded the purchase');
        await sleep(20);
      }
    } finally {
      await models.close();
    }

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(output).toContain('finishing the batches in hand');
  }, 180_000);
});
