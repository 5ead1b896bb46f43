import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import type { AccountCommand } from '../../ledger/src/accounts/commands.js';
import { AccountCommandHandler } from '../../ledger/src/commandHandling/accountCommandHandler.js';
import { SqliteEventStore } from '../../ledger/src/eventStore/sqlite/sqliteEventStore.js';
import { ManualClock } from '../../ledger/src/shared/clock.js';
import { removeTempDirs, tempDir } from '../../ledger/src/testing/tempDir.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import { SqliteReadModels } from './readModels/sqliteReadModels.js';
import { Projector } from './runtime/projector.js';

afterAll(removeTempDirs);

const eventsTotal = 50_000;
const kills = 5;

/**
 * Runs the projector process; with `killAt`, kill -9 it as soon as it reports a checkpoint at or past that
 * position (the process stalls a few batches later, so the kill always finds it running).
 */
const runProjectorProcess = async (dir: string, killAt?: number): Promise<{ killed: boolean; checkpoint: number }> => {
  const script = join(import.meta.dirname, 'testing', 'projectorProcess.ts');
  const args = killAt === undefined ? [dir] : [dir, String(killAt)];
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let checkpoint = -1;
  let killed = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const match = /^checkpoint (\d+)$/.exec(line);
    if (match === null) return;
    checkpoint = Number(match[1]);
    if (killAt !== undefined && checkpoint >= killAt && !killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  if (!killed) expect(code, `projector process exited with ${code} ${signal}`).toBe(0);
  return { killed, checkpoint };
};

const snapshot = (models: SqliteReadModels): unknown[] =>
  models.db.prepare('SELECT account, kind, balance, position FROM account_balances ORDER BY account').all();

describe('crash test: the projector killed with SIGKILL at 5 random points', () => {
  it('ends equal to a clean rebuild, document for document', async () => {
    const dir = tempDir();
    // 50,000 events from a mixed workload on 200 accounts.
    const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
    const handler = new AccountCommandHandler(store);
    const clock = new ManualClock();
    const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
    const users = Array.from({ length: 200 }, (_, u) => `u${u}`);
    await Promise.all(
      users.map((u) =>
        handler.execute(u, { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'seed', now: clock.now() }, context),
      ),
    );
    const perUser = Math.ceil((eventsTotal - users.length) / users.length);
    await Promise.all(
      users.map(async (u, i) => {
        for (let n = 0; n < perUser; n++) {
          const command: AccountCommand =
            n % 3 === 0
              ? { type: 'ContributeToClan', clanId: `clan-${i % 7}`, amount: 1 + (n % 5), now: clock.now() }
              : n % 3 === 1
                ? { type: 'SpendCredits', amount: 2, targetType: 'gig', targetId: `g${n % 11}`, reason: '', now: clock.now() }
                : { type: 'EarnCredits', amount: 3, source: 'reward', refId: `r${n}`, now: clock.now() };
          const result = await handler.execute(u, command, context);
          if (!result.ok) throw new Error(result.rejection.code);
        }
      }),
    );
    const head = await store.headPosition();
    expect(head).toBeGreaterThanOrEqual(eventsTotal);
    await store.close();

    // Kill at 5 random, increasing points of the run; each restart resumes from the durable checkpoint.
    const points = Array.from({ length: kills }, () => Math.floor(Math.random() * head)).sort((a, b) => a - b);
    const checkpoints: number[] = [];
    for (const point of points) {
      const run = await runProjectorProcess(dir, point);
      expect(run.killed).toBe(true);
      checkpoints.push(run.checkpoint);
    }
    // The process was killed part-way: the last checkpoint it reported was short of the head.
    expect(Math.min(...checkpoints)).toBeLessThan(head);
    const final = await runProjectorProcess(dir);
    expect(final.killed).toBe(false);

    // A clean rebuild of the same log into a fresh read-model file.
    const cleanDir = tempDir();
    const rebuiltModels = new SqliteReadModels(join(cleanDir, 'readmodels.db'));
    const log = new SqliteEventStore({ path: join(dir, 'events.db') });
    const projector = new Projector(log, new AccountBalancesProjection(rebuiltModels));
    projector.start();
    await projector.waitUntilCaughtUp(60_000);
    await projector.stop();
    await log.close();

    const crashedModels = new SqliteReadModels(join(dir, 'readmodels.db'));
    expect(crashedModels.checkpoint(new AccountBalancesProjection(crashedModels).checkpointName)).toBe(head);
    const crashed = snapshot(crashedModels);
    const rebuilt = snapshot(rebuiltModels);
    expect(crashed.length).toBeGreaterThan(200);
    expect(crashed).toEqual(rebuilt);
    expect(crashedModels.db.prepare('SELECT SUM(balance) AS total FROM account_balances').get()).toEqual({ total: 0 });
    crashedModels.close();
    rebuiltModels.close();
  }, 180_000);
});
