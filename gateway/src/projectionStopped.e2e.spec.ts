import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accountStreamPrefix, SqliteEventStore } from '../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import { embeddedOnly, sleep, startServer } from './testing/server.js';
import { bearer, testSecret } from './testing/testApp.js';

afterAll(removeTempDirs);

const admin = bearer('ops', ['admin']);

/** `npm run -s projections -- status --json` against the data directory, while the server runs. */
const statusRows = async (dataDir: string): Promise<{ name: string; state: string; failedOn: { id: string } | null }[]> => {
  const cli = join(import.meta.dirname, '..', '..', 'projections', 'src', 'cli', 'projections.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'status', '--json'], {
    env: { ...process.env, ...embeddedOnly, LEDGER_DATA_DIR: dataDir, JWT_SECRET: testSecret },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  expect(code).toBe(0);
  return JSON.parse(stdout) as { name: string; state: string; failedOn: { id: string } | null }[];
};

/**
 * Issue #11 item 7 as `npm start` runs it: the projectors in the workers process (their own process,
 * their statuses reported over IPC), the API in this one. A CreditsPurchased whose amount is not a
 * number, appended straight to the log (the command handler never writes one), stops the projections.
 */
describe('a projection stopped on an event (npm start, workers in their own process)', () => {
  it('/ready answers 503 naming the projection and the event, its routes answer 503 with it, /metrics counts it', async () => {
    const dataDir = tempDir();
    const { address, stop } = await startServer(dataDir);
    try {
      for (const [i, amount] of [10, 20].entries()) {
        const bought = await fetch(`${address}/api/credits/purchase`, {
          method: 'POST',
          headers: { ...bearer('payments', ['service']), 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 'ana', amount, paymentRef: `pay-${i}` }),
        });
        expect(bought.status).toBe(201);
      }
      const readyUntil = async (done: (status: number, projections: string | undefined) => boolean) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const response = await fetch(`${address}/ready`);
          const { checks } = (await response.json()) as { checks: Record<string, string> };
          if (done(response.status, checks.projections))
            return { status: response.status, projections: checks.projections ?? '' };
          if (Date.now() > deadline) throw new Error(`/ready never as expected: ${response.status} ${JSON.stringify(checks)}`);
          await sleep(50);
        }
      };
      await readyUntil((status) => status === 200);
      const metricsBefore = await (await fetch(`${address}/metrics`)).text();
      expect(metricsBefore).toMatch(/^projection_stopped_on_event\{projection="account_balances"\} 0$/m);

      // The unfoldable event, appended by a third process on the same file (as a bad migration would).
      const store = new SqliteEventStore({ path: join(dataDir, 'events.db'), backgroundCheckpoints: false });
      const eventId = randomUUID();
      const { position } = await store.append(
        `${accountStreamPrefix}ana`,
        [{ id: eventId, type: 'CreditsPurchased', data: { amount: 'a lot', balanceAfter: 'more' }, metadata: {} }],
        { expectedRevision: 1 },
      );
      await store.close();

      // Each projection finds the event on its own schedule (and reports every second): wait for both.
      const ready = await readyUntil(
        (_, projections) =>
          projections?.includes('account_balances stopped') === true && projections.includes('service_read_models stopped'),
      );
      expect(ready.status).toBe(503);
      const named = `account_balances stopped on event ${eventId} (CreditsPurchased, stream ${accountStreamPrefix}ana, revision 2, position ${position}): `;
      expect(ready.projections).toContain(named);
      expect(ready.projections).toContain('corrupt event'); // the fold's own error, carried over IPC
      expect(ready.projections).toContain(`service_read_models stopped on event ${eventId}`);

      const balance = await fetch(`${address}/api/accounts/ana/balance`, { headers: admin });
      expect(balance.status).toBe(503);
      const balanceBody = (await balance.json()) as { code: string; statusCode: number; message: string };
      expect(balanceBody).toMatchObject({ code: 'PROJECTION_STOPPED', statusCode: 503 });
      expect(balanceBody.message).toContain(named);
      const visibility = await fetch(`${address}/api/users/ana/visibility`, { headers: bearer('ana') });
      expect(visibility.status).toBe(503);
      const visibilityBody = (await visibility.json()) as { code: string; message: string };
      expect(visibilityBody.code).toBe('PROJECTION_STOPPED');
      expect(visibilityBody.message).toContain(`service_read_models stopped on event ${eventId}`);

      const metrics = await (await fetch(`${address}/metrics`)).text();
      expect(metrics).toMatch(/^projection_stopped_on_event\{projection="account_balances"\} 1$/m);
      expect(metrics).toMatch(/^projection_stopped_on_event\{projection="service_read_models"\} 1$/m);
      // Commands do not depend on the read models: they still take effect.
      const another = await fetch(`${address}/api/credits/purchase`, {
        method: 'POST',
        headers: { ...bearer('payments', ['service']), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'bo', amount: 5, paymentRef: 'after' }),
      });
      expect(another.status).toBe(201);

      // The operator's CLI, a third process, sees it too (the workers recorded it with the log).
      const rows = await statusRows(dataDir);
      expect(rows.find((r) => r.name === 'account_balances')).toMatchObject({ state: 'failed', failedOn: { id: eventId } });
      expect(rows.find((r) => r.name === 'service_read_models')).toMatchObject({ state: 'failed', failedOn: { id: eventId } });
    } finally {
      expect(await stop()).toBe(0);
    }
  }, 180_000);
});
