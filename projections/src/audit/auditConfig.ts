import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Duration } from 'luxon';
import { msPerHour, parseSigningKey, parseVerifyKey } from '../../../ledger/src/index.js';
import { ConfigError } from '../config.js';

/** Limits of the digest schedule, in one place. */
export const auditDigestLimits = {
  /** Shortest digest interval: each digest walks the whole log. */
  digestEveryMsMin: 60_000,
  /** Longest: one timer's wait (setTimeout fires at once past ~24.8 days). */
  digestEveryMsMax: 24 * 24 * msPerHour,
} as const;

export interface AuditConfig {
  /**
   * The Ed25519 key digests are signed with, or undefined when none is configured in production (no
   * digests can be taken; verify still runs with AUDIT_VERIFY_KEY).
   */
  readonly signingKey: KeyObject | undefined;
  /** The key digests are checked with: AUDIT_VERIFY_KEY, else the public half of the signing key. */
  readonly verifyKey: KeyObject | undefined;
  /** Where digests are written; never inside the event store. */
  readonly digestDir: string;
  /** How often `npm start` writes a digest; undefined (the default) for never. */
  readonly digestEveryMs: number | undefined;
  /** Where a generated development key lives, when one is used. */
  readonly developmentKeyFile: string | undefined;
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

/**
 * AUDIT_SIGNING_KEY (PEM or base64 PKCS#8 Ed25519), AUDIT_VERIFY_KEY (public, for auditors who must
 * not hold the signing key), AUDIT_DIGEST_DIR (default `<dataDir>/digests`), AUDIT_DIGEST_EVERY (an
 * ISO 8601 duration such as PT1H; off by default). Outside production, a missing signing key is
 * generated once into the data directory, like the development JWT secret.
 */
export const loadAuditConfig = (dataDir: string, production: boolean, env: NodeJS.ProcessEnv = process.env): AuditConfig => {
  const signingText = nonEmpty(env.AUDIT_SIGNING_KEY);
  const verifyText = nonEmpty(env.AUDIT_VERIFY_KEY);
  let signingKey: KeyObject | undefined;
  let developmentKeyFile: string | undefined;
  try {
    if (signingText !== undefined) signingKey = parseSigningKey(signingText);
    else if (!production) {
      developmentKeyFile = developmentSigningKeyFile(dataDir);
      signingKey = parseSigningKey(developmentSigningKey(developmentKeyFile), developmentKeyFile);
    }
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  let verifyKey: KeyObject | undefined;
  try {
    verifyKey = verifyText !== undefined ? parseVerifyKey(verifyText) : signingKey;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  let digestEveryMs: number | undefined;
  const every = nonEmpty(env.AUDIT_DIGEST_EVERY);
  if (every !== undefined) {
    const duration = Duration.fromISO(every);
    const ms = duration.isValid ? duration.as('milliseconds') : Number.NaN;
    if (!(ms >= auditDigestLimits.digestEveryMsMin && ms <= auditDigestLimits.digestEveryMsMax))
      throw new ConfigError(
        `AUDIT_DIGEST_EVERY must be an ISO 8601 duration between PT1M and P24D (such as PT1H), not ${JSON.stringify(every)}`,
      );
    if (signingKey === undefined) throw new ConfigError('AUDIT_DIGEST_EVERY needs AUDIT_SIGNING_KEY in production');
    digestEveryMs = ms;
  }
  return {
    signingKey,
    verifyKey,
    digestDir: resolve(nonEmpty(env.AUDIT_DIGEST_DIR) ?? join(dataDir, 'digests')),
    digestEveryMs,
    developmentKeyFile,
  };
};

export const developmentSigningKeyFile = (dataDir: string): string => join(dataDir, 'dev-audit-signing-key.pem');

/** Generated once: written whole under a private name and linked into place, so concurrent starts agree on one key. */
const developmentSigningKey = (file: string): string => {
  if (existsSync(file)) return readFileSync(file, 'utf8');
  mkdirSync(resolve(file, '..'), { recursive: true });
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, pem, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return pem;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
};
