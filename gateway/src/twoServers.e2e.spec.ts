import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../ledger/src/index.js';
import { readWholeLog, removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import { AccountBalancesProjection, SqliteReadModelStore } from '../../projections/src/index.js';
import { bearer, testSecret } from './testing/testApp.js';

afterAll(removeTempDirs);

const repositoryRoot = join(import.meta.dirname, '..', '..');

/** `npm start` in a process group of its own, on the embedded engine only; resolves with its address. */
const startServer = async (dataDir: string): Promise<{ child: ChildProcess; address: string }> => {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      EVENTSTORE_URL: '',
      MONGODB_URL: '',
      AMQP_URL: '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      LEDGER_DATA_DIR: dataDir,
      JWT_SECRET: testSecret,
      RATE_LIMIT_PER_USER_PER_MINUTE: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stderr: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /"address":"(http:\/\/[^"]+)"/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${stderr.join('')}`)));
  });
  return { child, address };
};

const post = async (
  address: string,
  path: string,
  user: string,
  body: object,
  key: string,
): Promise<{ status: number; body: Record<string, unknown> }> => {
  const response = await fetch(`${address}${path}`, {
    method: 'POST',
    // A purchase is the payment service's, naming the account it credits.
    headers: {
      ...(path.endsWith('/purchase') ? bearer('payments', ['service']) : bearer(user)),
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(path.endsWith('/purchase') ? { ...body, userId: user } : body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** Every projection of a server level with the log (from its /metrics), within a bounded wait. */
const waitCaughtUp = async (address: string): Promise<void> => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const metrics = await (await fetch(`${address}/metrics`)).text();
    const lags = [...metrics.matchAll(/^projection_lag_events\{projection="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));
    if (lags.length === 5 && lags.every((lag) => lag === 0)) return;
    if (Date.now() > deadline) throw new Error(`projections still behind: ${lags.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('two npm start servers on one embedded data directory', () => {
  it('under concurrent load on the same accounts, every command takes effect once and the books balance', async () => {
    const dataDir = tempDir();
    // One after the other: the first creates the files, then both run (with their workers) side by side.
    const a = await startServer(dataDir);
    const b = await startServer(dataDir);
    try {
      const users = Array.from({ length: 12 }, (_, u) => `two-${u}`);
      const boostsPerUser = 25;
      const credits = 1000;
      const amount = 7;

      // Each purchase goes to both servers at once: one payment, credited once.
      const purchases = await Promise.all(
        users.flatMap((user) =>
          [a, b].map((server) =>
            post(server.address, '/api/credits/purchase', user, { amount: credits, paymentRef: `pay-${user}` }, `buy-${user}`),
          ),
        ),
      );
      for (const purchase of purchases) expect(purchase.status).toBe(201);

      // Every boost is sent to both servers at the same time, with one key: the two processes race on
      // the same account (conflicts across processes, retries) and must agree on one effect.
      const boosts = await Promise.all(
        users.flatMap((user) =>
          Array.from({ length: boostsPerUser }, (_, i) =>
            Promise.all(
              [a, b].map((server) =>
                post(
                  server.address,
                  '/api/credits/boost/profile',
                  user,
                  { targetUserId: `target-${i % 5}`, amount, duration: 24 },
                  `boost-${user}-${i}`,
                ),
              ),
            ),
          ),
        ),
      );
      for (const [first, second] of boosts) {
        expect(first?.status).toBe(201);
        expect(second?.status).toBe(201);
        expect(second?.body.boostId).toBe(first?.body.boostId);
      }

      // The log: one purchase and boostsPerUser boosts per user, each user's balance what that leaves.
      const store = new SqliteEventStore({ path: join(dataDir, 'events.db'), backgroundCheckpoints: false });
      const log = await readWholeLog(store);
      await store.close();
      for (const user of users) {
        const own = log.filter((e) => e.stream === `account-${user}`);
        expect(own.filter((e) => e.type === 'CreditsPurchased')).toHaveLength(1);
        expect(own.filter((e) => e.type === 'BoostActivated')).toHaveLength(boostsPerUser);
        expect((own.at(-1)?.data as { balanceAfter: number }).balanceAfter).toBe(credits - boostsPerUser * amount);
      }

      // The read side of both servers, from both workers processes racing on one read-model file.
      await waitCaughtUp(a.address);
      await waitCaughtUp(b.address);
      const models = new SqliteReadModelStore(join(dataDir, 'readmodels.db'));
      try {
        const balances = new AccountBalancesProjection(models);
        expect((await balances.totals()).total).toBe(0n);
        for (const user of users)
          expect((await balances.balanceOf(user))?.balance).toBe(BigInt(credits - boostsPerUser * amount));
        expect((await balances.balanceOf('platform:boosts'))?.balance).toBe(BigInt(users.length * boostsPerUser * amount));
      } finally {
        await models.close();
      }
    } finally {
      for (const server of [a, b]) {
        const exited = once(server.child, 'exit');
        process.kill(-(server.child.pid ?? 0), 'SIGTERM');
        const [code] = (await exited) as [number | null];
        expect(code).toBe(0);
      }
    }
  }, 240_000);
});
