import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler } from '../commandHandling/accountCommandHandler.js';
import { accountEventOf } from './accountEvent.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import type { AccountCommand } from './commands.js';
import { decide } from './decide.js';
import { platformAccounts, userAccount } from './events.js';
import { addCredits, postingsOf } from './postings.js';
import { evolve, initialState, type AccountState } from './state.js';
import { readWholeLog } from '../testing/log.js';

const users = ['alice', 'bob', 'carol'] as const;
const start = DateTime.fromISO('2026-01-01T00:00:00.000Z', { zone: 'utc' });

/** One step of a random history: a command on a user, a clock advance, or settling a gig payment. */
type Step =
  | { kind: 'command'; user: number; command: (now: DateTime, n: number) => AccountCommand }
  | { kind: 'advance'; minutes: number }
  | { kind: 'settle'; pick: number };

/** Types a command factory (contextual typing keeps literal command types). */
const cmd = (factory: (now: DateTime, n: number) => AccountCommand): ((now: DateTime, n: number) => AccountCommand) => factory;

const amount = fc.oneof(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 5 }));
const user = fc.integer({ min: 0, max: users.length - 1 });

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: amount.map((a) => cmd((now: DateTime) => ({ type: 'PurchaseCredits', amount: a, paymentRef: 'p', now }))),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: amount.map((a) => cmd((now: DateTime) => ({ type: 'EarnCredits', amount: a, source: 'reward', refId: 'r', now }))),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: fc.tuple(amount, fc.constantFrom('gig', 'clan', 'profile', 'other' as const)).map(([a, targetType]) =>
        cmd((now: DateTime) => ({
          type: 'SpendCredits',
          amount: a,
          targetType,
          targetId: 't',
          reason: '',
          now,
        })),
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: fc
        .tuple(amount, fc.constantFrom('profile', 'gig', 'clan' as const), fc.double({ min: 0.001, max: 48, noNaN: true }))
        .map(([a, targetType, durationHours]) =>
          cmd((now: DateTime, n: number) => ({
            type: 'ActivateBoost',
            boostId: `b${n}`,
            targetType,
            targetId: 'x',
            amount: a,
            durationHours,
            now,
          })),
        ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: fc
        .integer({ min: 0, max: 200 })
        .map((k) => cmd((now: DateTime) => ({ type: 'ExpireBoost', boostId: `b${k}`, now }))),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: fc.tuple(amount, user).map(([a, payee]) =>
        cmd((now: DateTime, n: number) => ({
          type: 'PayForGig',
          transferId: `t${n}`,
          gigId: 'g',
          payeeId: users[payee] ?? 'alice',
          amount: a,
          now,
        })),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('command' as const),
      user,
      command: fc
        .tuple(amount, fc.constantFrom('c1', 'c2'))
        .map(([a, clanId]) => cmd((now: DateTime) => ({ type: 'ContributeToClan', clanId, amount: a, now }))),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 1, max: 24 * 60 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat() }) },
);

interface Books {
  readonly balances: Map<string, number>;
  post(userId: string, state: AccountState, ...events: Parameters<typeof postingsOf>[1][]): void;
}

const newBooks = (): Books => {
  const balances = new Map<string, number>();
  return {
    balances,
    post(userId, _state, ...events) {
      for (const event of events) {
        for (const { account, amount: delta } of postingsOf(userId, event))
          balances.set(account, addCredits(balances.get(account) ?? 0, delta));
      }
    },
  };
};

const sum = (values: Iterable<number>): number => {
  let total = 0;
  for (const value of values) total = addCredits(total, value);
  return total;
};

describe('double entry (property-based)', () => {
  it('over thousands of random histories: no balance below zero, the books always sum to zero, transit empties on settlement', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const states = new Map<string, AccountState>(users.map((u) => [u, initialState(u)]));
        const books = newBooks();
        const inTransit: { payerId: string; payeeId: string; transferId: string; amount: number }[] = [];
        let now = start;

        const run = (userId: string, command: AccountCommand): void => {
          const state = states.get(userId) ?? initialState(userId);
          const decision = decide(command, state);
          if (!decision.ok) return;
          let next = state;
          for (const event of decision.events) {
            next = evolve(next, event);
            if (event.type === 'GigPaymentSent')
              inTransit.push({
                payerId: userId,
                payeeId: event.data.payeeId,
                transferId: event.data.transferId,
                amount: event.data.amount,
              });
          }
          books.post(userId, next, ...decision.events);
          states.set(userId, next);
        };
        const settle = (index: number): void => {
          const [payment] = inTransit.splice(index, 1);
          if (payment === undefined) return;
          run(payment.payeeId, {
            type: 'ReceiveGigPayment',
            transferId: payment.transferId,
            gigId: 'g',
            payerId: payment.payerId,
            amount: payment.amount,
            now,
          });
        };

        steps.forEach((s, n) => {
          if (s.kind === 'advance') now = now.plus({ minutes: s.minutes });
          else if (s.kind === 'settle') settle(inTransit.length === 0 ? 0 : s.pick % inTransit.length);
          else run(users[s.user] ?? 'alice', s.command(now, n));

          // Invariants after every step.
          for (const [userId, state] of states) {
            expect(state.balance).toBeGreaterThanOrEqual(0);
            expect(books.balances.get(userAccount(userId)) ?? 0).toBe(state.balance);
          }
          expect(sum(books.balances.values())).toBe(0);
          expect(books.balances.get(platformAccounts.gigPaymentsInTransit) ?? 0).toBe(sum(inTransit.map((p) => p.amount)));
        });

        while (inTransit.length > 0) settle(0);
        expect(books.balances.get(platformAccounts.gigPaymentsInTransit) ?? 0).toBe(0);
        const withoutTransit = [...books.balances].filter(([account]) => account !== platformAccounts.gigPaymentsInTransit);
        expect(sum(withoutTransit.map(([, balance]) => balance))).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });

  describe('through the command handler and the embedded store', () => {
    afterEach(removeTempDirs);

    it('the books derived from the log alone balance and match every account', async () => {
      const store = new SqliteEventStore({ path: tempDbFile(), durability: 'normal' });
      const handler = new AccountCommandHandler(store);
      const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
          run++;
          const ids = users.map((u) => `${u}-${run}`);
          const sent: { payerId: string; payeeId: string; transferId: string; amount: number }[] = [];
          let now = start;
          for (const [n, s] of steps.entries()) {
            if (s.kind === 'advance') now = now.plus({ minutes: s.minutes });
            if (s.kind !== 'command') continue;
            const userId = ids[s.user] ?? 'x';
            let command = s.command(now, n);
            if (command.type === 'PayForGig')
              command = { ...command, payeeId: ids[users.indexOf(command.payeeId as (typeof users)[number])] ?? 'x' };
            const result = await handler.execute(userId, command, context);
            if (result.ok && command.type === 'PayForGig')
              sent.push({ payerId: userId, payeeId: command.payeeId, transferId: command.transferId, amount: command.amount });
          }
          // Settle everything, twice: the second settlement of each transfer must change nothing.
          for (let pass = 0; pass < 2; pass++) {
            for (const p of sent) {
              const result = await handler.execute(
                p.payeeId,
                { type: 'ReceiveGigPayment', transferId: p.transferId, gigId: 'g', payerId: p.payerId, amount: p.amount, now },
                { ...context, idempotency: { key: `settle-${p.transferId}`, fingerprint: p.transferId } },
              );
              expect(result.ok).toBe(true);
            }
          }
          // Replay this run's events from the log, posting each.
          const books = newBooks();
          for (const recorded of await readWholeLog(store)) {
            const decoded = accountEventOf(recorded);
            if (decoded !== undefined && ids.includes(decoded.userId))
              books.post(decoded.userId, initialState(decoded.userId), decoded.event);
          }
          for (const userId of ids)
            expect(books.balances.get(userAccount(userId)) ?? 0).toBe((await handler.read(userId)).balance);
          expect(books.balances.get(platformAccounts.gigPaymentsInTransit) ?? 0).toBe(0);
          expect(sum(books.balances.values())).toBe(0);
        }),
        { numRuns: 60 },
      );
      await store.close();
    });
  });
});
