import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { type AccountCommand, AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { Projector } from './projector.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';
import { dumpReadModel } from '../testing/dump.js';

afterAll(removeTempDirs);

const eventsTotal = 50_000;
const kills = 5;

/**
 * Runs the projector process; with `killAt`, kill -9 it as soon as it reports a checkpoint at or past that
 * position (the process stalls a few batches later, so the kill always finds it running).
 */
const runProjectorProcess = async (dir: string, killAt?: number): Promise<{ killed: boolean; checkpoint: number }> => {
  const script = join(import.meta.dirname, '..', 'testing', 'projectorProcess.ts');
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

/** Every document of both read models. */
const snapshot = async (models: SqliteReadModelStore) => ({
  balances: await dumpReadModel(new AccountBalancesProjection(models)),
  services: await dumpReadModel(new ServiceReadModelsProjection(models)),
});

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
          const now = clock.now();
          const commands: AccountCommand[] = [
            { type: 'ContributeToClan', clanId: `clan-${i % 7}`, amount: 1 + (n % 5), now },
            { type: 'SpendCredits', amount: 2, targetType: 'gig', targetId: `g${n % 11}`, reason: '', now },
            { type: 'EarnCredits', amount: 3, source: 'reward', refId: `r${n}`, now },
            {
              type: 'ActivateBoost',
              boostId: `${u}-b${n}`,
              targetType: (['profile', 'gig', 'clan'] as const)[n % 3] ?? 'gig',
              targetId: `t${n % 13}`,
              amount: 1 + (n % 9),
              durationHours: 1,
              now,
            },
            { type: 'PayForGig', transferId: `${u}-t${n}`, gigId: `g${n % 11}`, payeeId: `u${(i + 1) % 200}`, amount: 4, now },
          ];
          const command = commands[n % commands.length] as AccountCommand;
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
    const rebuiltModels = new SqliteReadModelStore(join(cleanDir, 'readmodels.db'));
    const log = new SqliteEventStore({ path: join(dir, 'events.db') });
    const projectors = [
      new Projector(log, new AccountBalancesProjection(rebuiltModels)),
      new Projector(log, new ServiceReadModelsProjection(rebuiltModels)),
    ];
    for (const projector of projectors) projector.start();
    for (const projector of projectors) await projector.waitUntilCaughtUp(60_000);
    for (const projector of projectors) await projector.stop();
    await log.close();

    const crashedModels = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    expect(await crashedModels.checkpoint(new AccountBalancesProjection(crashedModels).checkpointName)).toBe(head);
    expect(await crashedModels.checkpoint(new ServiceReadModelsProjection(crashedModels).checkpointName)).toBe(head);
    const crashed = await snapshot(crashedModels);
    const rebuilt = await snapshot(rebuiltModels);
    expect(crashed.balances.account_balances?.length).toBeGreaterThan(200);
    expect(crashed.services.active_boosts?.length).toBeGreaterThan(1000);
    expect(crashed.services.user_credit_events?.length).toBeGreaterThan(35_000);
    expect(crashed).toEqual(rebuilt);
    expect((await new AccountBalancesProjection(crashedModels).totals()).total).toBe(0n);
    await crashedModels.close();
    await rebuiltModels.close();
  }, 180_000);
});
