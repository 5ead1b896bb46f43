import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, type SqliteEventStore } from '../../../ledger/src/index.js';
import { removeTempDirs } from '../../../ledger/src/testing/index.js';
import type { ReadModelStore } from '../readModels/readModelStore.js';
import type { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { physicalCollection } from '../readModels/versionedProjection.js';
import { feed } from '../testing/feed.js';
import { openLedgerWithReadModels, type LedgerWithReadModels } from '../testing/ledgerWithReadModels.js';
import { activeBoostsListedMax } from './documents.js';
import { ServiceReadModelsProjection } from './serviceReadModels.js';

// A ranking page reads its rows and then the active boosts of all of them: a fixed number of store
// requests whatever the page size (issue 11 item 9), with the answers the 1 + N reads gave.

let ledger: LedgerWithReadModels;
let store: SqliteEventStore;
let models: SqliteReadModelStore;
const clock = new ManualClock('2026-06-29T13:30:00.000Z');

beforeEach(() => {
  ledger = openLedgerWithReadModels({ clock });
  ({ store, models } = ledger);
});
afterEach(async () => {
  await ledger.close();
  removeTempDirs();
});

const run: LedgerWithReadModels['run'] = (userId, command) => ledger.run(userId, command);

/** The real SQLite store, counting the requests made to it (a thin wrapper, not a mock). */
const counting = (inner: ReadModelStore): { store: ReadModelStore; calls: string[] } => {
  const calls: string[] = [];
  const reads = new Set(['get', 'getMany', 'find', 'findEach', 'count', 'activeVersion', 'checkpoint']);
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (typeof property === 'string' && reads.has(property)) calls.push(property);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls };
};

describe('ranking pages', () => {
  it('cost the same few store requests for 1, 6 or 13 rows, and list each row its own newest active boosts', async () => {
    // 13 gigs and 13 clans with 1 to 3 boosts each, from two boosters; gig-00 and clan-00 with more than
    // the listed maximum, so one target with many boosts could crowd the others out of a shared answer.
    for (const user of ['ana', 'ben', 'cai']) await run(user, { type: 'PurchaseCredits', amount: 100_000, paymentRef: 'p' });
    const targets = Array.from({ length: 13 }, (_, i) => String(i).padStart(2, '0'));
    let n = 0;
    for (const [i, id] of targets.entries())
      for (let b = 0; b <= i % 3; b++)
        for (const [type, prefix] of [
          ['gig', 'gig'],
          ['clan', 'clan'],
        ] as const)
          await run(b % 2 === 0 ? 'ana' : 'ben', {
            type: 'ActivateBoost',
            boostId: `b${n++}`,
            targetType: type,
            targetId: `${prefix}-${id}`,
            amount: 1 + i,
            durationHours: 1,
          });
    for (let b = 0; b < activeBoostsListedMax + 5; b++)
      for (const [type, prefix] of [
        ['gig', 'gig'],
        ['clan', 'clan'],
      ] as const)
        await run(b < 50 ? 'cai' : b % 2 === 0 ? 'ana' : 'ben', {
          type: 'ActivateBoost',
          boostId: `many${n++}`,
          targetType: type,
          targetId: `${prefix}-00`,
          amount: 1,
          durationHours: 1,
        });
    const { store: countingStore, calls } = counting(models);
    const projection = new ServiceReadModelsProjection(countingStore);
    await feed(store, projection);
    const version = await projection.readingVersion();

    /** The active boosts of one target as the 1 + N reads listed them: one query per target. */
    const listedAlone = async (targetType: 'gig' | 'clan', targetId: string) =>
      (
        await models.find(physicalCollection('active_boosts', version), {
          where: { targetType, targetId },
          orderBy: [['position', -1]],
          limit: activeBoostsListedMax,
        })
      )
        .reverse()
        .map((d) => ({ boostId: d.boostId, boosterId: d.boosterId, amount: d.amount, expiresAt: d.expiresAt }));

    const requests: number[] = [];
    for (const limit of [1, 6, 13]) {
      for (const ranking of ['gigRanking', 'clanRanking'] as const) {
        calls.length = 0;
        const page = await projection[ranking](limit);
        requests.push(calls.length);
        expect(page).toHaveLength(limit);
        for (const row of page) {
          const [targetType, id] = 'gigId' in row ? (['gig', row.gigId] as const) : (['clan', row.clanId] as const);
          expect(row.activeBoosts).toEqual(await listedAlone(targetType, id));
          expect(row.activeBoosts).toHaveLength(Math.min(row.activeBoostCount, activeBoostsListedMax));
        }
      }
    }
    // The crowded targets list exactly the newest `activeBoostsListedMax`, oldest of them first.
    const [top] = await projection.gigRanking(1);
    expect(top?.gigId).toBe('gig-00');
    expect(top?.activeBoostCount).toBe(activeBoostsListedMax + 6);
    expect(top?.activeBoosts).toHaveLength(activeBoostsListedMax);
    // Each page: the readers' version, the page, the active boosts of all its rows.
    expect(new Set(requests)).toEqual(new Set([requests[0]]));
    expect(requests[0]).toBeLessThanOrEqual(3);
  });
});
