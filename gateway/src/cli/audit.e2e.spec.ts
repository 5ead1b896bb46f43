import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { developmentSigningKeyFile } from '../../../projections/src/index.js';

afterAll(removeTempDirs);

/** The embedded files only: a production URL in the environment must not leak in. */
const embeddedOnly = { EVENTSTORE_URL: '', MONGODB_URL: '', AUDIT_SIGNING_KEY: '', AUDIT_VERIFY_KEY: '', AUDIT_DIGEST_DIR: '' };

const cli = async (
  dataDir: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'audit.ts'), ...args], {
    env: { ...process.env, ...embeddedOnly, LEDGER_DATA_DIR: dataDir, ...env },
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
  for (const user of ['ana', 'bo']) {
    await handler.execute(user, { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await handler.execute(user, { type: 'ContributeToClan', clanId: 'k', amount: 7, now: clock.now() }, context);
  }
  await store.close();
  return dir;
};

describe('npm run audit (verify, digest)', () => {
  it('signs a digest with the generated development key, verifies against it, and names a truncation', async () => {
    const dir = await seeded();
    const digest = await cli(dir, ['digest', '--json', '--prove', 'account-bo']);
    expect(digest.code).toBe(0);
    const written = JSON.parse(digest.stdout) as {
      file: string;
      streamCount: number;
      logHead: { events: number };
      proof: object;
    };
    expect(written).toMatchObject({
      streamCount: 2,
      logHead: { events: 4 },
      proof: { head: { stream: 'account-bo', revision: 1 } },
    });
    expect(existsSync(developmentSigningKeyFile(dir))).toBe(true);
    expect(readdirSync(join(dir, 'digests'))).toHaveLength(1);

    const clean = await cli(dir, ['verify', '--latest', '--json']);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toMatchObject({ ok: true, eventsRead: 4, breaks: [], findings: [] });

    const db = new Database(join(dir, 'events.db'));
    db.prepare("DELETE FROM events WHERE stream = 'account-ana' AND revision = 1").run();
    db.close();
    const plain = await cli(dir, ['verify']);
    expect(plain.code).toBe(0);
    const cut = await cli(dir, ['verify', '--digest', written.file]);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toContain('account-ana: truncated (ends at revision 0, the digest has it up to 1)');
    expect(cut.stdout).toContain('FAILED');
  });

  it('refuses a digest signed by a key other than the configured one', async () => {
    const dir = await seeded();
    const other = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const foreign = await cli(dir, ['digest', '--json'], { AUDIT_SIGNING_KEY: other });
    expect(foreign.code).toBe(0);
    const { file } = JSON.parse(foreign.stdout) as { file: string };
    const refused = await cli(dir, ['verify', '--digest', file, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, refused: expect.stringContaining('another key') });
  });

  it('names a broken link, and refuses to sign a broken log', async () => {
    const dir = await seeded();
    const db = new Database(join(dir, 'events.db'));
    db.prepare("UPDATE events SET data = json_set(data, '$.amount', 5) WHERE stream = 'account-bo' AND revision = 0").run();
    db.close();
    const broken = await cli(dir, ['verify']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(
      /BROKEN {3}account-bo at revision 0 \(log position \d+\): content hashes to [0-9a-f]{64}, carries/,
    );
    const refused = await cli(dir, ['digest']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refusing to sign');
  });

  it('answers history, balance as of, boost, target, trace and transfer from the log, and exports it', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    const handler = new AccountCommandHandler(store);
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    const as = (correlationId: string) => ({ actor: 'user:ana', correlationId, causationId: correlationId });
    await handler.execute('ana', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, as('req-1'));
    clock.advance({ hours: 1 });
    await handler.execute(
      'ana',
      { type: 'ActivateBoost', boostId: 'b1', targetType: 'gig', targetId: 'g7', amount: 30, durationHours: 2, now: clock.now() },
      as('req-2'),
    );
    clock.advance({ hours: 1 });
    await handler.execute(
      'ana',
      { type: 'PayForGig', transferId: 't1', gigId: 'g7', payeeId: 'bo', amount: 20, now: clock.now() },
      as('req-3'),
    );
    await store.close();

    const json = async <T>(args: string[]): Promise<T> => {
      const result = await cli(dir, [...args, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      return JSON.parse(result.stdout) as T;
    };
    expect(await json(['balance', 'ana', '--as-of', '2026-06-29T13:00:00Z'])).toMatchObject({ balance: 0, eventsFolded: 0 });
    expect(await json(['balance', 'user:ana', '--as-of', '2026-06-29T16:00:00+01:00'])).toMatchObject({
      balance: 70,
      eventsFolded: 2,
    });
    expect(await json(['balance', 'ana'])).toMatchObject({ balance: 50, eventsFolded: 3 });
    const history = await json<{ type: string; correlationId: string }[]>(['history', 'ana']);
    expect(history.map((e) => [e.type, e.correlationId])).toEqual([
      ['CreditsPurchased', 'req-1'],
      ['BoostActivated', 'req-2'],
      ['GigPaymentSent', 'req-3'],
    ]);
    expect(await json(['boost', 'b1'])).toMatchObject({
      payer: 'ana',
      targetType: 'gig',
      targetId: 'g7',
      active: true,
      dueAt: '2026-06-29T16:30:00.000Z',
    });
    expect(await json(['target', 'gig', 'g7'])).toMatchObject([{ boostId: 'b1', amount: 30, active: true }]);
    expect(await json(['transfer', 't1'])).toMatchObject({ payer: 'ana', payee: 'bo', settled: false, inTransitMs: null });
    expect((await json<{ type: string }[]>(['trace', 'req-3'])).map((e) => e.type)).toEqual(['GigPaymentSent']);

    const csv = join(dir, 'ana.csv');
    const exported = await cli(dir, ['export', '--account', 'ana', '--format', 'csv', '--out', csv]);
    expect(exported.code).toBe(0);
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(
      'position,stream,revision,eventId,type,occurredAt,recordedAt,actor,correlationId,causationId,commandId,commandType,data',
    );
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain(',BoostActivated,2026-06-29T14:30:00.000Z,');
    const window = await cli(dir, ['export', '--from', '2026-06-29T14:00:00Z', '--to', '2026-06-29T15:30:00Z']);
    expect(
      window.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type),
    ).toEqual(['BoostActivated']);
    const future = await cli(dir, ['balance', 'ana', '--as-of', '2999-01-01T00:00:00Z']);
    expect(future.code).toBe(2);
    expect(future.stderr).toContain('in the future');
  }, 240_000);
});
