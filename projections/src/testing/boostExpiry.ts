import type { AccountCommandHandler, ManualClock, SqliteEventStore } from '../../../ledger/src/index.js';
import { readWholeLog, tempDir, type Closer } from '../../../ledger/src/testing/index.js';
import { BoostExpiryScheduler } from '../expiry/boostExpiryScheduler.js';
import { feed } from './feed.js';
import { openLedgerWithReadModels, testContext } from './ledgerWithReadModels.js';

/**
 * The boost expiry specs' setup: a log and read models in `dir` (a new temporary one by default; the
 * same `dir` twice is a second process on the same files), closed by `closers`, and a scheduler.
 */
export const openBoostExpiry = (closers: Closer[], dir = tempDir()) => {
  const { store, models, clock, handler } = openLedgerWithReadModels({ dir, durability: 'normal' });
  closers.push(
    () => store.close(),
    () => models.close(),
  );
  const scheduler = new BoostExpiryScheduler({ store: models, handler, clock });
  /** The runtime's job, done by hand: feed the scheduler's pending set from the log. */
  const project = (): Promise<void> => feed(store, scheduler);
  return { dir, store, models, clock, handler, scheduler, project };
};

/** `userId` activates a profile boost of 10 credits on user123 for `durationHours`; a rejection throws. */
export const activateBoost = async (
  handler: AccountCommandHandler,
  clock: ManualClock,
  userId: string,
  boostId: string,
  durationHours: number,
) => {
  const result = await handler.execute(
    userId,
    { type: 'ActivateBoost', boostId, targetType: 'profile', targetId: 'user123', amount: 10, durationHours, now: clock.now() },
    testContext,
  );
  if (!result.ok) throw new Error(result.rejection.code);
};

/** `users` accounts (u0, u1, …), each buying credits and then activating `perUser` 1-hour profile boosts. */
export const boostEach = async (handler: AccountCommandHandler, clock: ManualClock, users: number, perUser: number) => {
  await Promise.all(
    Array.from({ length: users }, async (_, n) => {
      const u = `u${n}`;
      await handler.execute(u, { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: clock.now() }, testContext);
      for (let b = 0; b < perUser; b++) await activateBoost(handler, clock, u, `${u}-b${b}`, 1);
    }),
  );
};

export const expiredEvents = (store: SqliteEventStore) => readWholeLog(store, 'BoostExpired');
