import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { AccountCommandHandler, SqliteEventStore, ManualClock, accountStreamPrefix } from '../../../ledger/src/index.js';
import { appendBulkPurchases, removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { AuditIndexProjection } from '../audit/auditIndex.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { relayCheckpointOf } from '../fanout/relayCheckpoint.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { rebuildLeases } from '../rebuild/rebuild.js';
import { Projector } from '../runtime/projector.js';
import { versionedCheckpointName } from '../readModels/versionedProjection.js';

afterAll(removeTempDirs);

/** These tests check the embedded default's files: a production URL in the environment must not leak in. */
const embeddedOnly = { EVENTSTORE_URL: '', MONGODB_URL: '' };

/** `npm run projections -- …args` against a data directory, as an operator would run it. */
const cli = async (dataDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'projections.ts'), ...args], {
    env: { ...process.env, ...embeddedOnly, LEDGER_DATA_DIR: dataDir, JWT_SECRET: 'cli-test-secret-cli-test-secret-cli-test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
};

const seeded = async (): Promise<string> => {
  const dir = tempDir();
  const store = new SqliteEventStore({ path: join(dir, 'events.db') });
  const handler = new AccountCommandHandler(store);
  const clock = new ManualClock();
  const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
  for (const user of ['ana', 'bo', 'cy']) {
    await handler.execute(user, { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await handler.execute(user, { type: 'ContributeToClan', clanId: 'k', amount: 7, now: clock.now() }, context);
  }
  await store.close();
  return dir;
};

describe('npm run projections (operator CLI)', () => {
  it('lists lag, rebuilds with machine-readable progress, and then lists the new version caught up', async () => {
    const dir = await seeded();
    const before = await cli(dir, 'status', '--json');
    expect(before.code).toBe(0);
    const rows = JSON.parse(before.stdout) as { name: string; version: number | null; lagEvents: number; lagMs: number }[];
    expect(rows.find((r) => r.name === 'account_balances')).toMatchObject({ version: null, lagEvents: 6 });
    // The oldest unhandled event was appended before the CLI started: it has been waiting a while.
    expect(rows.find((r) => r.name === 'account_balances')?.lagMs).toBeGreaterThan(0);

    const built = await cli(dir, 'rebuild', 'account_balances', '--json', '--grace', '0');
    expect(built.code).toBe(0);
    const progress = built.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { done: boolean; version: number; events: number });
    expect(progress.at(-1)).toMatchObject({ done: true, version: 2, events: 6 });

    const after = JSON.parse((await cli(dir, 'status', '--json')).stdout) as {
      name: string;
      version: number;
      lagEvents: number;
      lagMs: number;
    }[];
    expect(after.find((r) => r.name === 'account_balances')).toMatchObject({ version: 2, lagEvents: 0, lagMs: 0 });

    // --all: one pass, a progress line per read model, each switched to its next version.
    const all = await cli(dir, 'rebuild', '--all', '--json', '--grace', '0');
    expect(all.code).toBe(0);
    const finals = all.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { readModel: string; done: boolean; version: number; events: number })
      .filter((line) => line.done);
    expect(finals).toEqual([
      expect.objectContaining({ readModel: 'account_balances', version: 3, events: 6 }),
      expect.objectContaining({ readModel: 'service_read_models', version: 2, events: 6 }),
    ]);
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    expect((await new AccountBalancesProjection(models).balanceOf('clan:k'))?.balance).toBe(21n);
    await models.close();
  }, 30_000);

  it('lists the audit index with the other projections, behind the log until it has handled it', async () => {
    const dir = await seeded();
    const lagOf = async () =>
      (JSON.parse((await cli(dir, 'status', '--json')).stdout) as { name: string; checkpoint: number; lagEvents: number }[]).find(
        (r) => r.name === 'audit_index',
      );
    expect(await lagOf()).toMatchObject({ checkpoint: -1, lagEvents: 6 });
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    const index = new AuditIndexProjection(models);
    await index.handle(await store.readAll({ after: await index.loadCheckpoint() }));
    await models.close();
    await store.close();
    expect(await lagOf()).toMatchObject({ lagEvents: 0 });
  }, 30_000);

  it('shows a projection stopped on an event, with the event, in its table and in --json; not once it moved past it', async () => {
    const dir = await seeded();
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    // A CreditsPurchased whose amount is not a number: the command handler never writes one, a fold cannot take it.
    const id = randomUUID();
    const { position } = await store.append(
      `${accountStreamPrefix}ana`,
      [{ id, type: 'CreditsPurchased', data: { amount: 'a lot', balanceAfter: 'more' }, metadata: {} }],
      { expectedRevision: 1 },
    );
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    const projector = new Projector(store, new AccountBalancesProjection(models));
    projector.start();
    try {
      await expect.poll(async () => (await projector.status()).state, { timeout: 20_000, interval: 50 }).toBe('failed');
    } finally {
      await projector.stop();
      await models.close();
      await store.close();
    }
    type Row = { name: string; state: string; checkpoint: number; failedOn: Record<string, unknown> | null };
    const rows = JSON.parse((await cli(dir, 'status', '--json')).stdout) as Row[];
    const balances = rows.find((r) => r.name === 'account_balances');
    expect(balances).toMatchObject({
      state: 'failed',
      checkpoint: position - 1,
      failedOn: { id, type: 'CreditsPurchased', stream: `${accountStreamPrefix}ana`, revision: 2, position },
    });
    expect(balances?.failedOn?.error).toEqual(expect.any(String));
    // The others never ran here: behind, not stopped.
    expect(rows.find((r) => r.name === 'service_read_models')).toMatchObject({ state: 'behind', failedOn: null });
    const table = (await cli(dir, 'status')).stdout;
    expect(table).toMatch(/account_balances .* failed/);
    expect(table).toContain(
      `account_balances stopped on event ${id} (CreditsPurchased, stream ${accountStreamPrefix}ana, revision 2, position ${position}): `,
    );

    // Once its checkpoint is past the event (a fixed fold took it), the record no longer counts, even
    // when the process that wrote it stopped before it could clear it.
    const later = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    await later.commit([], { name: versionedCheckpointName('account_balances', 1), position });
    await later.close();
    const after = (JSON.parse((await cli(dir, 'status', '--json')).stdout) as Row[]).find((r) => r.name === 'account_balances');
    expect(after).toMatchObject({ state: 'caught-up', failedOn: null });
  }, 60_000);

  it('refuses a second rebuild of the same read model with a clear message, and --force takes over', async () => {
    const dir = await seeded();
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    await models.ensureCollection(rebuildLeases);
    await models.commit([
      { op: 'insert', collection: rebuildLeases.name, id: 'account_balances', doc: { owner: 'elsewhere:42', startedAt: 'then' } },
    ]);
    await models.close();

    const refused = await cli(dir, 'rebuild', 'account_balances');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('already being rebuilt by elsewhere:42');
    expect(refused.stderr).toContain('--force');
    expect(refused.stderr).not.toContain('    at '); // one line, no stack trace

    const forced = await cli(dir, 'rebuild', 'account_balances', '--force', '--json', '--grace', '0');
    expect(forced.code).toBe(0);
    const again = await cli(dir, 'rebuild', 'account_balances', '--json', '--grace', '0'); // the lease was released
    expect(again.code).toBe(0);
  }, 30_000);

  it('stops between batches on SIGTERM: exit 143, readers stay on the old version, the lease is released', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
    // 60,000 purchases, so the rebuild takes a while.
    await appendBulkPurchases(store, 10, 6000);
    await store.close();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'projections.ts'),
        'rebuild',
        'service_read_models',
        '--json',
        '--grace',
        '0',
      ],
      {
        env: { ...process.env, ...embeddedOnly, LEDGER_DATA_DIR: dir, JWT_SECRET: 'cli-test-secret-cli-test-secret-cli-test' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Stop it as soon as it reports its first batch.
    child.stdout.once('data', () => child.kill('SIGTERM'));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(143);
    expect(stderr).toContain('SIGTERM: rebuild stopped');
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    expect(await models.activeVersion('service_read_models')).toBeUndefined();
    expect(await models.get(rebuildLeases.name, 'service_read_models')).toBeUndefined();
    await models.close();
  }, 60_000);

  it('needs no JWT secret, also with NODE_ENV=production (it verifies no tokens), and makes none', async () => {
    const dir = await seeded();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'projections.ts'), 'status', '--json'], {
      env: { ...process.env, ...embeddedOnly, LEDGER_DATA_DIR: dir, NODE_ENV: 'production', JWT_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'account_balances' })]));
    expect(existsSync(join(dir, 'dev-jwt-secret'))).toBe(false);
  }, 30_000);

  it('asks for a read model by name', async () => {
    const unknown = await cli(await seeded(), 'rebuild', 'no_such_model');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('account_balances, service_read_models');
  }, 30_000);

  it('relay-reset moves the relay checkpoint back, and status lists the relay with that checkpoint and its lag', async () => {
    const dir = await seeded();
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    const head = await store.headPosition();
    await relayCheckpointOf(store).save(head); // as a relay that published everything leaves it
    await store.close();
    type Row = { name: string; version: number | null; checkpoint: number; head: number; lagEvents: number; lagMs: number };
    const relayRow = async (): Promise<Row | undefined> =>
      (JSON.parse((await cli(dir, 'status', '--json')).stdout) as Row[]).find((r) => r.name === 'rabbitmq_relay');
    expect(await relayRow()).toEqual({
      name: 'rabbitmq_relay',
      version: null,
      checkpoint: head,
      head,
      lagEvents: 0,
      lagMs: 0,
      state: 'caught-up',
      failedOn: null,
    });

    const partial = await cli(dir, 'relay-reset', '--to', String(head - 2), '--json');
    expect(partial.code).toBe(0);
    expect(JSON.parse(partial.stdout)).toEqual({
      name: 'rabbitmq_relay',
      before: head,
      checkpoint: head - 2,
      head,
      republish: 2,
    });
    const row = await relayRow();
    expect(row).toMatchObject({ checkpoint: head - 2, head, lagEvents: 2 });
    expect(row?.lagMs).toBeGreaterThan(0); // the oldest unpublished event was appended before the CLI ran

    const all = await cli(dir, 'relay-reset');
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`checkpoint ${head - 2} -> -1`);
    expect(await relayRow()).toMatchObject({ checkpoint: -1, lagEvents: head });

    // Past the head (events appended later would be skipped) and not a position: refused, checkpoint unchanged.
    const past = await cli(dir, 'relay-reset', '--to', String(head + 1));
    expect(past.code).toBe(1);
    expect(past.stderr).toContain('past the log head');
    const bad = await cli(dir, 'relay-reset', '--to', 'yesterday');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('a log position');
    expect(await relayRow()).toMatchObject({ checkpoint: -1 });
  }, 180_000);
});
