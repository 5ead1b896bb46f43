import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** Limits of the HTTP edge, in one place. */
export const gatewayLimits = {
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
} as const;

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(4005),
  HOST: z.string().default('0.0.0.0'),
  LEDGER_DATA_DIR: z.string().default('./data'),
  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  /** PEM of an RS256 public key; when set, tokens are verified with it instead of JWT_SECRET. */
  JWT_PUBLIC_KEY: z.string().optional(),
  RATE_LIMIT_PER_USER_PER_MINUTE: z.coerce.number().int().min(0).default(6000),
  EVENTSTORE_URL: z.string().optional(),
  MONGODB_URL: z.string().optional(),
  AMQP_URL: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface GatewayConfig {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly auth:
    { readonly algorithm: 'HS256'; readonly secret: string } | { readonly algorithm: 'RS256'; readonly publicKey: string };
  readonly rateLimitPerUserPerMinute: number;
  readonly eventStoreUrl: string | undefined;
  readonly mongodbUrl: string | undefined;
  readonly amqpUrl: string | undefined;
  readonly logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads the configuration from the environment. In embedded (non-production) mode without a secret, a
 * development secret is generated once into the data directory, so `npm start` and `npm run token`
 * agree without any setup; in production a missing secret is a refusal to start.
 */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): GatewayConfig => {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const dataDir = resolve(e.LEDGER_DATA_DIR);
  let auth: GatewayConfig['auth'];
  if (e.JWT_PUBLIC_KEY !== undefined) auth = { algorithm: 'RS256', publicKey: e.JWT_PUBLIC_KEY };
  else if (e.JWT_SECRET !== undefined) auth = { algorithm: 'HS256', secret: e.JWT_SECRET };
  else if (production) throw new ConfigError('NODE_ENV=production needs JWT_SECRET (or JWT_PUBLIC_KEY); refusing to start');
  else auth = { algorithm: 'HS256', secret: developmentSecret(dataDir) };
  return {
    production,
    port: e.PORT,
    host: e.HOST,
    dataDir,
    auth,
    rateLimitPerUserPerMinute: e.RATE_LIMIT_PER_USER_PER_MINUTE,
    eventStoreUrl: e.EVENTSTORE_URL,
    mongodbUrl: e.MONGODB_URL,
    amqpUrl: e.AMQP_URL,
    logLevel: e.LOG_LEVEL,
  };
};

export const developmentSecretFile = (dataDir: string): string => join(dataDir, 'dev-jwt-secret');

const developmentSecret = (dataDir: string): string => {
  const file = developmentSecretFile(dataDir);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process (the server, or `npm run token`) created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw error;
  }
};
