import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDigest, AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { developmentSigningKeyFile, loadAuditConfig } from './auditConfig.js';
import { latestDigestFile, readDigestFile, startDigestSchedule } from './auditDigests.js';
import { ConfigError } from '../config.js';

afterEach(removeTempDirs);

const ed25519 = () => generateKeyPairSync('ed25519');

describe('audit configuration', () => {
  it('generates one development key into the data directory and reuses it; digests off by default', () => {
    const dir = tempDir();
    const first = loadAuditConfig(dir, false, {});
    const second = loadAuditConfig(dir, false, {});
    expect(first.developmentKeyFile).toBe(developmentSigningKeyFile(dir));
    expect(readFileSync(developmentSigningKeyFile(dir), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(first.signingKey?.export({ type: 'pkcs8', format: 'pem' })).toBe(
      second.signingKey?.export({ type: 'pkcs8', format: 'pem' }),
    );
    expect(first.digestEveryMs).toBeUndefined();
    expect(first.digestDir).toBe(join(dir, 'digests'));
  });

  it('takes the key as PEM or base64 DER, never generates one in production, and refuses other key types', () => {
    const dir = tempDir();
    const { privateKey, publicKey } = ed25519();
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(loadAuditConfig(dir, true, { AUDIT_SIGNING_KEY: pem }).signingKey?.asymmetricKeyType).toBe('ed25519');
    expect(loadAuditConfig(dir, true, { AUDIT_SIGNING_KEY: der }).developmentKeyFile).toBeUndefined();
    const verifyOnly = loadAuditConfig(dir, true, {
      AUDIT_VERIFY_KEY: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    });
    expect(verifyOnly.signingKey).toBeUndefined();
    expect(verifyOnly.verifyKey?.type).toBe('public');
    expect(readdirSync(dir)).toEqual([]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => loadAuditConfig(dir, true, { AUDIT_SIGNING_KEY: rsa })).toThrow(/must be an Ed25519 key/);
    expect(() => loadAuditConfig(dir, true, { AUDIT_SIGNING_KEY: 'not a key' })).toThrow(ConfigError);
  });

  it('reads AUDIT_DIGEST_EVERY as an ISO 8601 duration within its limits', () => {
    const dir = tempDir();
    expect(loadAuditConfig(dir, false, { AUDIT_DIGEST_EVERY: 'PT1H' }).digestEveryMs).toBe(3_600_000);
    for (const bad of ['1h', 'PT1S', 'P1Y', 'soon'])
      expect(() => loadAuditConfig(dir, false, { AUDIT_DIGEST_EVERY: bad })).toThrow(/AUDIT_DIGEST_EVERY/);
    expect(() => loadAuditConfig(dir, true, { AUDIT_DIGEST_EVERY: 'PT1H' })).toThrow(/needs AUDIT_SIGNING_KEY/);
    expect(loadAuditConfig(dir, false, { AUDIT_DIGEST_DIR: '/srv/digests' }).digestDir).toBe('/srv/digests');
  });
});

describe('digest schedule', () => {
  it('writes signed digests into its directory until stopped', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    const clock = new ManualClock();
    await new AccountCommandHandler(store).execute(
      'ana',
      { type: 'PurchaseCredits', amount: 5, paymentRef: 'p', now: clock.now() },
      { actor: 't', correlationId: 'c', causationId: 'c' },
    );
    const { privateKey } = ed25519();
    const digestDir = join(dir, 'digests');
    const errors: object[] = [];
    const stop = startDigestSchedule({
      store,
      signingKey: privateKey,
      dir: digestDir,
      clock,
      everyMs: 5,
      log: { info: () => undefined, error: (obj) => errors.push(obj) },
    });
    for (let waitedMs = 0; latestDigestFile(digestDir) === undefined && waitedMs < 10_000; waitedMs += 20) await delay(20);
    await stop();
    await store.close();
    const file = latestDigestFile(digestDir);
    expect(file).toBeDefined();
    const checked = readDigestFile(file!, privateKey);
    expect(checked).toMatchObject({ ok: true, digest: { streamCount: 1, createdAt: clock.now().toISO() } });
    expect(checkDigest({}, privateKey).ok).toBe(false);
    expect(errors).toEqual([]);
  });
});
