import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../ledger/src/index.js';
import { appendBulkPurchases, removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import { sleep, startServer } from './testing/server.js';
import { bearer } from './testing/testApp.js';

afterAll(removeTempDirs);

/**
 * The bound this test holds the API to while a projection makes no progress. Far above what these
 * requests take (milliseconds), far below how long the projection is held (until the checks are done):
 * a request that waited on the projection would never answer within it.
 */
const answerWithinMs = 2000;

/** The pid of the workers process `main` started, once it exists. */
const workersPid = async (mainPid: number): Promise<number> => {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    let out = '';
    try {
      out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(mainPid)], { encoding: 'utf8' });
    } catch {
      // no children yet: ps exits 1
    }
    const line = out.split('\n').find((l) => l.includes('workers.ts'));
    if (line !== undefined) return Number(line.trim().split(/\s+/)[0]);
    await sleep(20);
  }
  throw new Error('the workers process never started');
};

const lagOf = async (address: string, projection: string): Promise<number> => {
  const metrics = await (await fetch(`${address}/metrics`)).text();
  const match = new RegExp(`^projection_lag_events\\{projection="${projection}"\\} (\\d+)$`, 'm').exec(metrics);
  if (match === null) throw new Error(`no lag for ${projection}`);
  return Number(match[1]);
};

/** The request's answer and how long it took, wall clock. */
const timed = async (request: () => Promise<Response>): Promise<{ status: number; ms: number }> => {
  const started = performance.now();
  const response = await request();
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
};

describe('a projection that makes no progress (npm start, workers in their own process)', () => {
  it('cannot make a health check, a readiness check, a command or a query wait longer than the bound', async () => {
    const dataDir = tempDir();
    // A backlog for the projectors to be in the middle of.
    const seeding = new SqliteEventStore({ path: join(dataDir, 'events.db'), backgroundCheckpoints: false });
    await appendBulkPurchases(seeding, 20, 1000);
    await seeding.close();

    const { main, address, stop } = await startServer(dataDir);
    const workers = await workersPid(main.pid ?? 0);
    // Held still: the read models stay where they are (mid catch-up, or not started) for as long as it lasts.
    process.kill(workers, 'SIGSTOP');
    try {
      expect(await lagOf(address, 'account_balances')).toBeGreaterThan(0);

      const user = 'slow-projection-user';
      const answers = {
        health: await timed(() => fetch(`${address}/health`)),
        ready: await timed(() => fetch(`${address}/ready`)),
        purchase: await timed(() =>
          fetch(`${address}/api/credits/purchase`, {
            method: 'POST',
            headers: { ...bearer('payments', ['service']), 'content-type': 'application/json' },
            body: JSON.stringify({ userId: user, amount: 40, paymentRef: 'while-stalled' }),
          }),
        ),
        boost: await timed(() =>
          fetch(`${address}/api/credits/boost/profile`, {
            method: 'POST',
            headers: { ...bearer(user), 'content-type': 'application/json' },
            body: JSON.stringify({ targetUserId: 'someone', amount: 15, duration: 24 }),
          }),
        ),
        balance: await timed(() => fetch(`${address}/api/credits/balance`, { headers: bearer(user) })),
        // A read model that is behind answers at once too (with its data and lag, or a 503), never waits.
        readModel: await timed(() => fetch(`${address}/api/accounts/${user}/balance`, { headers: bearer('ops', ['admin']) })),
      };
      expect(answers.health.status).toBe(200);
      expect(answers.ready.status).toBe(200);
      expect(answers.purchase.status).toBe(201);
      expect(answers.boost.status).toBe(201);
      expect(answers.balance.status).toBe(200);
      expect([200, 503]).toContain(answers.readModel.status);
      for (const [what, answer] of Object.entries(answers)) expect(answer.ms, what).toBeLessThan(answerWithinMs);
      // And the projection really made no progress meanwhile.
      expect(await lagOf(address, 'account_balances')).toBeGreaterThan(0);
    } finally {
      process.kill(workers, 'SIGCONT');
    }

    // Released, it catches up, the commands taken meanwhile included.
    const deadline = Date.now() + 120_000;
    while ((await lagOf(address, 'account_balances')) > 0) {
      if (Date.now() > deadline) throw new Error('account_balances never caught up');
      await sleep(50);
    }
    const balance = await fetch(`${address}/api/accounts/slow-projection-user/balance`, {
      headers: bearer('ops', ['admin']),
    });
    expect(((await balance.json()) as { balance: string }).balance).toBe('25');

    expect(await stop()).toBe(0);
  }, 240_000);
});
