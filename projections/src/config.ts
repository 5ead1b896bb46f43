import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * The configuration the engines need — where the data lives and which servers to use — read from the
 * environment in one place for every entry point: the gateway (gateway/src/config.ts adds its own
 * variables around these) and the projections CLI, which needs no secret.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The storage variables, with their defaults; an entry point's schema includes them as they are. */
export const storageEnvShape = {
  LEDGER_DATA_DIR: z.string().default('./data'),
  EVENTSTORE_URL: z.string().optional(),
  MONGODB_URL: z.string().optional(),
  AMQP_URL: z.string().optional(),
};

export interface StorageConfig {
  /** Absolute path of the data directory (embedded event store and read models, development secret). */
  readonly dataDir: string;
  readonly eventStoreUrl: string | undefined;
  readonly mongodbUrl: string | undefined;
  readonly amqpUrl: string | undefined;
}

/** Parses the environment against a schema; a refusal names every failing variable. */
export const parseEnv = <S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> => {
  // An empty variable is an unset one (compose and shells pass `FOO=` for "not configured").
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    throw new ConfigError(
      `invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
};

/** The storage configuration out of parsed variables (any schema that includes `storageEnvShape`). */
export const storageConfigOf = (e: {
  readonly LEDGER_DATA_DIR: string;
  readonly EVENTSTORE_URL?: string | undefined;
  readonly MONGODB_URL?: string | undefined;
  readonly AMQP_URL?: string | undefined;
}): StorageConfig => ({
  dataDir: resolve(e.LEDGER_DATA_DIR),
  eventStoreUrl: e.EVENTSTORE_URL,
  mongodbUrl: e.MONGODB_URL,
  amqpUrl: e.AMQP_URL,
});

const storageEnvSchema = z.object(storageEnvShape);

/** Where the data lives, for tools that never verify tokens (the projections CLI): no secret needed. */
export const loadStorageConfig = (env: NodeJS.ProcessEnv = process.env): StorageConfig =>
  storageConfigOf(parseEnv(storageEnvSchema, env));

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The log level variable, shared by the API and the workers. */
export const logLevelEnvShape = { LOG_LEVEL: z.enum(logLevels).default('info') };

const workersEnvSchema = z.object({ ...storageEnvShape, ...logLevelEnvShape, NODE_ENV: z.string().default('development') });

export interface WorkersConfig extends StorageConfig {
  readonly logLevel: (typeof logLevels)[number];
  /** NODE_ENV=production: no development audit signing key is generated. */
  readonly production: boolean;
}

/** What the workers process (`npm run workers`) needs: the stores, the log level, no secret. */
export const loadWorkersConfig = (env: NodeJS.ProcessEnv = process.env): WorkersConfig => {
  const e = parseEnv(workersEnvSchema, env);
  return { ...storageConfigOf(e), logLevel: e.LOG_LEVEL, production: e.NODE_ENV === 'production' };
};
