import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterAll, describe, expect, it } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import { accountStream } from '../accounts/events.js';
import { evolve, initialState } from '../accounts/state.js';
import { accountEventOf } from '../accounts/accountEvent.js';
import { AccountCommandHandler } from '../commandHandling/accountCommandHandler.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import { occurredAtOf } from './accountAudit.js';
import { balanceAsOf } from './balanceIndex.js';

afterAll(removeTempDirs);

const start = DateTime.fromISO('2026-01-01T00:00:00.000Z', { zone: 'utc' });
const iso = (t: DateTime): string => t.toUTC().toISO() ?? '';

/** One step of a history: how far the clock moves (0 allowed: several events at one instant), then a command. */
const step = fc.record({
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 * 3_600_000 })),
  kind: fc.constantFrom('purchase', 'spend', 'earn', 'boost', 'expire', 'clan'),
  amount: fc.integer({ min: 1, max: 500 }),
  pick: fc.nat(),
});

const commandOf = (
  s: { kind: string; amount: number; pick: number },
  now: DateTime,
  i: number,
  boosts: string[],
): AccountCommand => {
  switch (s.kind) {
    case 'purchase':
      return { type: 'PurchaseCredits', amount: s.amount, paymentRef: `pay-${i}`, now };
    case 'spend':
      return { type: 'SpendCredits', amount: s.amount, targetType: 'gig', targetId: 'g', reason: '', now };
    case 'earn':
      return { type: 'EarnCredits', amount: s.amount, source: 'referral', refId: `ref-${i}`, now };
    case 'boost':
      boosts.push(`boost-${i}`);
      return {
        type: 'ActivateBoost',
        boostId: `boost-${i}`,
        targetType: 'gig',
        targetId: 'g',
        amount: s.amount,
        durationHours: 1,
        now,
      };
    case 'expire':
      return { type: 'ExpireBoost', boostId: boosts[s.pick % Math.max(1, boosts.length)] ?? 'none', now };
    default:
      return { type: 'ContributeToClan', clanId: 'k', amount: s.amount, now };
  }
};

describe('balance as of an instant', () => {
  it('equals the fold of the events up to that instant, for random histories and instants', async () => {
    const store = new SqliteEventStore({ path: tempDbFile(), durability: 'normal' });
    const handler = new AccountCommandHandler(store);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 0, maxLength: 25 }),
        fc.array(fc.integer({ min: -3_600_000, max: 80 * 3_600_000 }), { minLength: 1, maxLength: 6 }),
        async (steps, probesMs) => {
          const userId = `u${run++}`;
          let now = start;
          const boosts: string[] = [];
          for (const [i, s] of steps.entries()) {
            now = now.plus({ milliseconds: s.advanceMs });
            await handler.execute(userId, commandOf(s, now, i, boosts), { actor: 't', correlationId: 'c', causationId: 'c' });
          }
          const events = await store.readStream(accountStream(userId));
          for (const probeMs of probesMs) {
            const asOf = iso(start.plus({ milliseconds: probeMs }));
            let state = initialState(userId);
            let folded = 0;
            for (const event of events) {
              if (occurredAtOf(event) > asOf) break;
              state = evolve(state, accountEventOf(event)!.event);
              folded += 1;
            }
            const answer = await balanceAsOf(store, accountStream(userId), asOf);
            expect(answer.balance).toBe(state.balance);
            expect(answer.eventsFolded).toBe(folded);
            expect(answer.revision).toBe(folded - 1);
          }
          // As of the last instant (or later), the live balance.
          const live = await handler.read(userId);
          expect((await balanceAsOf(store, accountStream(userId), iso(now))).balance).toBe(live.balance);
          // Before the first event: nothing.
          expect((await balanceAsOf(store, accountStream(userId), iso(start.minus({ milliseconds: 1 })))).balance).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
    await store.close();
  });
});

describe('balance as of an instant, through the balance index', () => {
  it('equals the fold whether the index is empty, partial or complete, for random histories, block sizes and instants', async () => {
    const store = new SqliteEventStore({ path: tempDbFile(), durability: 'normal' });
    const handler = new AccountCommandHandler(store);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: -3_600_000, max: 120 * 3_600_000 }), { minLength: 1, maxLength: 8 }),
        async (steps, blockEvents, probesMs) => {
          const userId = `x${run++}`;
          const stream = accountStream(userId);
          let now = start;
          const boosts: string[] = [];
          // Half the history first, probes in between (a partial index), then the rest.
          const half = Math.floor(steps.length / 2);
          const probe = async (): Promise<void> => {
            const events = await store.readStream(stream);
            for (const probeMs of probesMs) {
              const asOf = iso(start.plus({ milliseconds: probeMs }));
              let state = initialState(userId);
              let folded = 0;
              for (const event of events) {
                if (occurredAtOf(event) > asOf) break;
                state = evolve(state, accountEventOf(event)!.event);
                folded += 1;
              }
              const answer = await balanceAsOf(store, stream, asOf, { blockEvents });
              expect(answer.indexMismatch).toBe(false);
              expect(answer.balance).toBe(state.balance);
              expect(answer.eventsFolded).toBe(folded);
              expect(answer.revision).toBe(folded - 1);
            }
          };
          for (const [i, s] of steps.entries()) {
            if (i === half) await probe();
            now = now.plus({ milliseconds: s.advanceMs });
            await handler.execute(userId, commandOf(s, now, i, boosts), { actor: 't', correlationId: 'c', causationId: 'c' });
          }
          await probe();
          await probe();
          // Folded to the end once, the index holds the first window's block if that window moved credits,
          // and a query as of now starts from a block rather than from the stream's start.
          const live = await handler.read(userId);
          expect((await balanceAsOf(store, stream, iso(now), { blockEvents })).balance).toBe(live.balance);
          const events = await store.readStream(stream);
          const firstWindowMoves = events.slice(0, blockEvents).some((e) => e.data.balanceAfter !== undefined);
          const asOfNow = await balanceAsOf(store, stream, iso(now), { blockEvents });
          expect(asOfNow.indexRevision >= 0).toBe(events.length >= blockEvents && firstWindowMoves);
          expect(asOfNow.balance).toBe(live.balance);
        },
      ),
      { numRuns: 60 },
    );
    await store.close();
  });
});
