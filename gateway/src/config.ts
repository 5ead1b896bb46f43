import { createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, parseEnv, storageConfigOf, storageEnvShape, type StorageConfig } from '../../projections/src/index.js';

export { ConfigError, loadStorageConfig } from '../../projections/src/index.js';

/** Limits of the HTTP edge, in one place. */
export const gatewayLimits = {
  /**
   * Longest path parameter as sent (percent-encoded): an account id (`user:` and 128 characters, up
   * to 9 encoded characters each) fits; longer ones get 414.
   */
  pathParamLengthMax: 2048,
  /** Largest request body; larger ones get 413. */
  bodyBytesMax: 16 * 1024,
  /** Longest Idempotency-Key header. */
  idempotencyKeyLengthMax: 128,
  /** Largest page of history. */
  historyPageMax: 100,
  historyPageDefault: 20,
  /** How long /ready waits for each dependency. */
  readinessTimeoutMs: 2000,
  /** Verified JWTs kept in memory (LRU), so a reused token is not re-verified on every request. */
  verifiedTokensCachedMax: 10_000,
  /** Requests still running at shutdown get this long to finish. */
  shutdownGraceMs: 10_000,
  /** During shutdown, how often connections that went idle are closed. */
  shutdownIdleSweepMs: 25,
  /**
   * Longest time to receive a whole request (headers and body) from its first byte: a client sending
   * a byte now and then (slowloris) cannot hold a connection and its memory open. Node's
   * `server.requestTimeout` (408).
   */
  requestTimeoutMs: 30_000,
  /** A socket with no activity for this long is closed (Node's `server.timeout`). */
  connectionTimeoutMs: 60_000,
  /** An idle kept-alive connection is closed after this long (Node's `server.keepAliveTimeout`). */
  keepAliveTimeoutMs: 10_000,
  /** /metrics counts a read-model table (pending expiries) at most this often; scrapes in between get the last count. */
  metricsCountMaxAgeMs: 15_000,
  /** IPs whose failed requests are counted at once (see failureLimit.ts); the oldest is forgotten first. */
  failureLimitIpsTrackedMax: 100_000,
} as const;

/** A whole number written in plain decimal digits (no '', '0x50', '8e3' or ' 80'). */
const decimal = (name: string) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `${name} must be a whole number`)
    .transform(Number);

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: decimal('PORT').pipe(z.number().max(65_535)).default(4005),
  HOST: z.string().default('0.0.0.0'),
  LEDGER_DATA_DIR: storageEnvShape.LEDGER_DATA_DIR,
  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  /** PEM of an RS256 public key; when set, tokens are verified with it instead of JWT_SECRET. */
  JWT_PUBLIC_KEY: z.string().optional(),
  /** When set, a token must carry this audience (`aud`) / issuer (`iss`): for tokens from a shared identity provider. */
  JWT_AUDIENCE: z.string().optional(),
  JWT_ISSUER: z.string().optional(),
  RATE_LIMIT_PER_USER_PER_MINUTE: decimal('RATE_LIMIT_PER_USER_PER_MINUTE').default(6000),
  RATE_LIMIT_FAILURES_PER_IP_PER_MINUTE: decimal('RATE_LIMIT_FAILURES_PER_IP_PER_MINUTE').default(600),
  EVENTSTORE_URL: storageEnvShape.EVENTSTORE_URL,
  MONGODB_URL: storageEnvShape.MONGODB_URL,
  AMQP_URL: storageEnvShape.AMQP_URL,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Where the API process runs the workers (projectors, reactors, expiry): `process` (a second process
   * it starts and supervises), `inline` (on its own event loop) or `none` (they run elsewhere: `npm run workers`).
   */
  LEDGER_WORKERS: z.enum(['process', 'inline', 'none']).default('process'),
});

export interface GatewayConfig extends StorageConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly auth:
    { readonly algorithm: 'HS256'; readonly secret: string } | { readonly algorithm: 'RS256'; readonly publicKey: string };
  /** Required `aud` and `iss` of tokens, when configured. */
  readonly jwtAudience?: string | undefined;
  readonly jwtIssuer?: string | undefined;
  readonly rateLimitPerUserPerMinute: number;
  /** Failed (401) and invalid (400) requests per IP per minute before its requests get 429; 0 turns it off. */
  readonly rateLimitFailuresPerIpPerMinute: number;
  readonly logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  readonly workers: z.infer<typeof envSchema>['LEDGER_WORKERS'];
}

/**
 * Reads the configuration from the environment. In embedded (non-production) mode without a secret, a
 * development secret is generated once into the data directory, so `npm start` and `npm run token`
 * agree without any setup; in production a missing secret is a refusal to start.
 */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): GatewayConfig => {
  const e = parseEnv(envSchema, env);
  const production = e.NODE_ENV === 'production';
  const storage = storageConfigOf(e);
  const dataDir = storage.dataDir;
  let auth: GatewayConfig['auth'];
  if (e.JWT_PUBLIC_KEY !== undefined) {
    try {
      createPublicKey(e.JWT_PUBLIC_KEY);
    } catch (error) {
      throw new ConfigError(`JWT_PUBLIC_KEY is not a PEM public key: ${(error as Error).message}`);
    }
    auth = { algorithm: 'RS256', publicKey: e.JWT_PUBLIC_KEY };
  } else if (e.JWT_SECRET !== undefined) auth = { algorithm: 'HS256', secret: e.JWT_SECRET };
  else if (production) throw new ConfigError('NODE_ENV=production needs JWT_SECRET (or JWT_PUBLIC_KEY); refusing to start');
  else auth = { algorithm: 'HS256', secret: developmentSecret(dataDir) };
  return {
    production,
    port: e.PORT,
    host: e.HOST,
    dataDir,
    auth,
    jwtAudience: e.JWT_AUDIENCE,
    jwtIssuer: e.JWT_ISSUER,
    rateLimitPerUserPerMinute: e.RATE_LIMIT_PER_USER_PER_MINUTE,
    rateLimitFailuresPerIpPerMinute: e.RATE_LIMIT_FAILURES_PER_IP_PER_MINUTE,
    eventStoreUrl: storage.eventStoreUrl,
    mongodbUrl: storage.mongodbUrl,
    amqpUrl: storage.amqpUrl,
    logLevel: e.LOG_LEVEL,
    workers: e.LEDGER_WORKERS,
  };
};

export const developmentSecretFile = (dataDir: string): string => join(dataDir, 'dev-jwt-secret');

const developmentSecret = (dataDir: string): string => {
  const file = developmentSecretFile(dataDir);
  if (existsSync(file)) return readSecret(file);
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  // Written whole under a private name, then linked into place: the file appears with its content or
  // not at all, and only once (link fails if another process — the server, `npm run token` — won).
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return secret;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return readSecret(file);
    // A filesystem without hard links (FAT, some network mounts): an exclusive create instead.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
      try {
        writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
        return secret;
      } catch (exclusive) {
        if ((exclusive as NodeJS.ErrnoException).code === 'EEXIST') return readSecret(file);
        throw exclusive;
      }
    }
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
};

const readSecret = (file: string): string => {
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new ConfigError(`${file} does not hold a usable secret; delete it to have a new one made`);
  return secret;
};
