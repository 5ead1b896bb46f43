// The audit specs' history (tamper.int on the embedded file, tamper.esdb.int on EventStoreDB). Not in
// testing/index.ts: it asserts with vitest's `expect`, and the bench imports the index outside vitest.
import { DateTime } from 'luxon';
import { expect } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import type { AccountCommandHandler } from '../commandHandling/accountCommandHandler.js';

/** When every command of the history happens. */
export const auditNow = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
export const auditContext = { actor: 'admin:audit-test', correlationId: 'req-1', causationId: 'req-1' };

export const purchase = (amount: number, paymentRef: string): AccountCommand => ({
  type: 'PurchaseCredits',
  amount,
  paymentRef,
  now: auditNow,
});
export const spend = (amount: number): AccountCommand => ({
  type: 'SpendCredits',
  amount,
  targetType: 'gig',
  targetId: 'g1',
  reason: 'work',
  now: auditNow,
});

/**
 * Three accounts (a, b, c) of five events each, a purchase and then four spends, interleaved in the log;
 * `user` names each account's user (a run's own prefix, on a shared server).
 */
export const appendThreeAccounts = async (
  handler: AccountCommandHandler,
  user: (name: string) => string = (name) => name,
): Promise<void> => {
  for (let i = 0; i < 5; i++)
    for (const name of ['a', 'b', 'c']) {
      const result = await handler.execute(user(name), i === 0 ? purchase(1000, `pay-${name}`) : spend(10), auditContext);
      expect(result.ok).toBe(true);
    }
};
