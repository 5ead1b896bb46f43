import { join } from 'node:path';
import {
  AccountCommandHandler,
  ManualClock,
  SqliteEventStore,
  type AccountCommand,
  type SqliteEventStoreOptions,
} from '../../../ledger/src/index.js';
import { tempDir } from '../../../ledger/src/testing/index.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';

/** A command without its time: the test's clock supplies it. */
export type WithoutNow<T> = T extends unknown ? Omit<T, 'now'> : never;

/** The request context of a test's commands. */
export const testContext = { actor: 'test', correlationId: 'c', causationId: 'c' };

export interface LedgerWithReadModels {
  readonly dir: string;
  /** The embedded log, `events.db` in `dir`. */
  readonly store: SqliteEventStore;
  /** The embedded read models, `readmodels.db` in `dir`. */
  readonly models: SqliteReadModelStore;
  readonly handler: AccountCommandHandler;
  readonly clock: ManualClock;
  /** Executes `userId`'s command at the clock's time; a rejection throws (with its code and message). */
  run(userId: string, command: WithoutNow<AccountCommand>): Promise<void>;
  /** Closes the log and the read models (the directory is removeTempDirs' to remove). */
  close(): Promise<void>;
}

/**
 * What most projection tests start from: a log and read models in a temporary directory (or `dir`,
 * to open them again as a restarted process would), a command handler and a manual clock.
 */
export const openLedgerWithReadModels = (
  options: { dir?: string; clock?: ManualClock; durability?: SqliteEventStoreOptions['durability'] } = {},
): LedgerWithReadModels => {
  const dir = options.dir ?? tempDir();
  const store = new SqliteEventStore({
    path: join(dir, 'events.db'),
    ...(options.durability === undefined ? {} : { durability: options.durability }),
  });
  const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  const handler = new AccountCommandHandler(store);
  const clock = options.clock ?? new ManualClock('2026-06-29T13:30:00.000Z');
  return {
    dir,
    store,
    models,
    handler,
    clock,
    run: async (userId, command) => {
      const result = await handler.execute(userId, { ...command, now: clock.now() }, testContext);
      if (!result.ok) throw new Error(`${result.rejection.code}: ${result.rejection.message}`);
    },
    close: async () => {
      await store.close();
      await models.close();
    },
  };
};
