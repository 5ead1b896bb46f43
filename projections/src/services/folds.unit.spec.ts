import { describe, expect, it } from 'vitest';
import { type AccountEvent, type BoostTargetType, type SpendTargetType } from '../../../ledger/src/index.js';
import { foldOnce, type Positioned } from '../readModels/foldOnce.js';
import { activeBoostChangeOf, documentsTouchedBy, logsOf } from './changes.js';
import { evolveClanContributor, evolveClanReputation, topContributorsOf } from './clanReputation.js';
import {
  emptyClanContributor,
  emptyClanReputation,
  emptyGigRanking,
  emptyUserVisibility,
  topContributorsMax,
  type ServiceEvent,
} from './documents.js';
import { evolveGigRanking } from './gigRanking.js';
import { evolveUserVisibility } from './userVisibility.js';

// The per-service folds, without a store: given documents and events, then the document they make.

const t0 = '2026-06-29T13:30:00.000Z';
const t1 = '2026-06-29T14:30:00.000Z';
let nextPosition = 0;
/** An event on `userId`'s account at the next position (or at `position`). */
const on = (userId: string, event: AccountEvent, position = nextPosition++): ServiceEvent => ({ userId, position, event });

const activated = (
  boostId: string,
  targetType: BoostTargetType,
  targetId: string,
  amount: number,
  activatedAt = t0,
): AccountEvent => ({
  type: 'BoostActivated',
  data: {
    boostId,
    targetType,
    targetId,
    amount,
    durationHours: 1,
    activatedAt,
    expiresAt: t1,
    counterparty: 'platform:boosts',
    balanceAfter: 0,
  },
});
const expired = (boostId: string, targetType: BoostTargetType, targetId: string, amount: number): AccountEvent => ({
  type: 'BoostExpired',
  data: { boostId, targetType, targetId, amount, dueAt: t1, expiredAt: t1 },
});
const spent = (targetType: SpendTargetType, targetId: string, amount: number): AccountEvent => ({
  type: 'CreditsSpent',
  data: { amount, targetType, targetId, reason: '', counterparty: 'platform:spending', balanceAfter: 0 },
});
const paid = (gigId: string, amount: number): AccountEvent => ({
  type: 'GigPaymentSent',
  data: { transferId: 't', gigId, payeeId: 'seller', amount, counterparty: 'platform:gig-payments-in-transit', balanceAfter: 0 },
});
const contributed = (clanId: string, amount: number): AccountEvent => ({
  type: 'ClanContributionMade',
  data: { clanId, amount, counterparty: `clan:${clanId}`, balanceAfter: 0 },
});
const onlyLogged: AccountEvent[] = [
  { type: 'CreditsPurchased', data: { amount: 5, paymentRef: 'p', counterparty: 'platform:sales', balanceAfter: 5 } },
  { type: 'CreditsEarned', data: { amount: 5, source: 's', refId: 'r', counterparty: 'platform:earnings', balanceAfter: 5 } },
  {
    type: 'GigPaymentReceived',
    data: {
      transferId: 't',
      gigId: 'g',
      payerId: 'buyer',
      amount: 5,
      counterparty: 'platform:gig-payments-in-transit',
      balanceAfter: 5,
    },
  },
];

/** Folds events in order. */
const fold = <T>(doc: T, evolve: (doc: T, event: ServiceEvent) => T, events: readonly ServiceEvent[]): T =>
  events.reduce(evolve, doc);

describe('user visibility fold', () => {
  it('a boost of the profile raises count, credits, score and what it received; its expiry takes exactly its share off', () => {
    const first = fold(emptyUserVisibility('u'), evolveUserVisibility, [on('fan', activated('b0', 'profile', 'u', 40))]);
    expect(first).toEqual({
      userId: 'u',
      visibilityScore: 40n,
      activeBoostCount: 1,
      activeBoostCredits: 40n,
      lastBoostAt: t0,
      boostsReceived: 1,
      boostCreditsReceived: 40n,
    });
    const second = evolveUserVisibility(first, on('booster', activated('b1', 'profile', 'u', 100, t1)));
    expect(second).toMatchObject({
      visibilityScore: 140n,
      activeBoostCount: 2,
      lastBoostAt: t1,
      boostsReceived: 2,
      boostCreditsReceived: 140n,
    });
    const after = evolveUserVisibility(second, on('booster', expired('b1', 'profile', 'u', 100)));
    // The score and the active boosts are exactly as before the boost; history keeps counting.
    expect(after).toEqual({ ...first, lastBoostAt: t1, boostsReceived: 2, boostCreditsReceived: 140n });
    expect(after.visibilityScore).toBe(first.visibilityScore);
  });

  it('events about anything else leave the document as it is', () => {
    const doc = evolveUserVisibility(emptyUserVisibility('u'), on('fan', activated('b0', 'profile', 'u', 40)));
    for (const event of [
      activated('b1', 'profile', 'someone-else', 10),
      activated('b2', 'gig', 'u', 10), // a gig that happens to share the id
      expired('b3', 'clan', 'u', 10),
      spent('profile', 'u', 10),
      paid('u', 10),
      contributed('u', 10),
      ...onlyLogged,
    ])
      expect(evolveUserVisibility(doc, on('u', event))).toBe(doc);
  });
});

describe('gig ranking fold', () => {
  it('boosts count 100 per credit while active, spends on the gig one each; payments are shown beside the score', () => {
    const boosted = fold(emptyGigRanking('g'), evolveGigRanking, [on('buyer', activated('b', 'gig', 'g', 5))]);
    expect(boosted).toMatchObject({ rankScore: 500n, activeBoostCount: 1, activeBoostCredits: 5n, lastBoostAt: t0 });
    const paidFor = evolveGigRanking(boosted, on('buyer', paid('g', 700)));
    expect(paidFor).toEqual({ ...boosted, paymentsTotal: 700n, paymentsCount: 1 });
    const spentOn = evolveGigRanking(paidFor, on('buyer', spent('gig', 'g', 9)));
    expect(spentOn).toEqual({ ...paidFor, creditsSpentOn: 9n, rankScore: 509n });
    const after = evolveGigRanking(spentOn, on('buyer', expired('b', 'gig', 'g', 5)));
    expect(after).toMatchObject({ rankScore: 9n, activeBoostCount: 0, activeBoostCredits: 0n });
  });

  it('two accounts paying each other back and forth for a gig leave its score unchanged; a boost still raises it', () => {
    const start = fold(emptyGigRanking('g'), evolveGigRanking, [on('x', spent('gig', 'g', 3))]);
    const backAndForth = Array.from({ length: 50 }, (_, i) => on(i % 2 === 0 ? 'a' : 'b', paid('g', 1_000_000)));
    const churned = fold(start, evolveGigRanking, backAndForth);
    expect(churned.rankScore).toBe(start.rankScore);
    expect(churned).toMatchObject({ rankScore: 3n, paymentsTotal: 50_000_000n, paymentsCount: 50 });
    const boosted = evolveGigRanking(churned, on('a', activated('b', 'gig', 'g', 2)));
    expect(boosted.rankScore).toBe(3n + 200n);
  });

  it('an expiry returns the score exactly to what it was before the boost', () => {
    const before = fold(emptyGigRanking('g'), evolveGigRanking, [on('a', paid('g', 33)), on('a', activated('x', 'gig', 'g', 7))]);
    const during = evolveGigRanking(before, on('b', activated('y', 'gig', 'g', 11, t1)));
    const after = evolveGigRanking(during, on('b', expired('y', 'gig', 'g', 11)));
    expect(after.rankScore).toBe(before.rankScore);
    expect(after).toEqual({ ...before, lastBoostAt: t1 });
  });

  it('events about anything else leave the document as it is', () => {
    const doc = evolveGigRanking(emptyGigRanking('g'), on('buyer', paid('g', 1)));
    for (const event of [
      activated('b', 'profile', 'g', 10),
      activated('b', 'gig', 'other', 10),
      spent('clan', 'g', 10),
      spent('other', 'g', 10),
      paid('other', 10),
      contributed('g', 10),
      ...onlyLogged,
    ])
      expect(evolveGigRanking(doc, on('buyer', event))).toBe(doc);
  });
});

describe('clan reputation folds', () => {
  it('contributions add up per contributor, who counts once, from their first contribution', () => {
    const first = on('ana', contributed('c', 50));
    const ana = evolveClanContributor(emptyClanContributor('c', 'ana'), first);
    expect(ana).toEqual({ clanId: 'c', userId: 'ana', total: 50n, since: first.position });
    let clan = evolveClanReputation(emptyClanReputation('c'), first, ana);
    expect(clan).toMatchObject({ contributionsTotal: 50n, contributors: 1, reputation: 50n });

    const again = on('ana', contributed('c', 40));
    const anaAgain = evolveClanContributor(ana, again);
    expect(anaAgain).toEqual({ ...ana, total: 90n });
    clan = evolveClanReputation(clan, again, anaAgain);
    expect(clan).toMatchObject({ contributionsTotal: 90n, contributors: 1, reputation: 90n });

    const ben = on('ben', contributed('c', 80));
    clan = evolveClanReputation(clan, ben, evolveClanContributor(emptyClanContributor('c', 'ben'), ben));
    expect(clan).toMatchObject({ contributionsTotal: 170n, contributors: 2 });
  });

  it('a contribution replayed onto a clan whose contributor already holds it counts the contributor once', () => {
    const first = on('ana', contributed('c', 50));
    const written = evolveClanContributor(emptyClanContributor('c', 'ana'), first);
    // The crash left the contributor written and the clan not: the clan still counts a new contributor.
    expect(evolveClanReputation(emptyClanReputation('c'), first, written)).toMatchObject({ contributors: 1 });
  });

  it('boosts count twice their credits while active, and the expiry returns the reputation exactly', () => {
    const contribution = on('ana', contributed('c', 20));
    const before = evolveClanReputation(
      emptyClanReputation('c'),
      contribution,
      evolveClanContributor(emptyClanContributor('c', 'ana'), contribution),
    );
    const during = evolveClanReputation(before, on('ben', activated('b', 'clan', 'c', 300)));
    expect(during).toMatchObject({ reputation: 20n + 2n * 300n, activeBoostCount: 1, activeBoostCredits: 300n, lastBoostAt: t0 });
    const after = evolveClanReputation(during, on('ben', expired('b', 'clan', 'c', 300)));
    expect(after.reputation).toBe(before.reputation);
    expect(after).toEqual({ ...before, lastBoostAt: t0 });
    expect(evolveClanReputation(after, on('ben', spent('clan', 'c', 9)))).toEqual({ ...after, creditsSpentOn: 9n });
  });

  it('a contribution folded into its clan without its contributor is a programmer error', () => {
    expect(() => evolveClanReputation(emptyClanReputation('c'), on('ana', contributed('c', 5)))).toThrow(
      /contributor before its clan/,
    );
  });

  it('events about anything else leave the documents as they are', () => {
    const clan = emptyClanReputation('c');
    const contributor = emptyClanContributor('c', 'ana');
    for (const event of [
      activated('b', 'gig', 'c', 10),
      spent('gig', 'c', 10),
      contributed('other', 10),
      paid('c', 10),
      ...onlyLogged,
    ])
      expect(evolveClanReputation(clan, on('ana', event))).toBe(clan);
    expect(evolveClanContributor(contributor, on('ben', contributed('c', 10)))).toBe(contributor);
    expect(evolveClanContributor(contributor, on('ana', contributed('other', 10)))).toBe(contributor);
  });

  it('the top contributors are the highest totals, ties in the stores string order (code points), cut at the limit', () => {
    const totals = new Map([
      ['😀a', 10n],
      ['！b', 10n],
      ['！a', 10n],
      ['z', 99n],
      ['y', 1n],
      ['x', 10n],
      ['w', 10n],
    ]);
    expect(topContributorsOf(totals)).toEqual([
      { userId: 'z', total: 99n },
      { userId: 'w', total: 10n },
      { userId: 'x', total: 10n },
      { userId: '！a', total: 10n }, // U+FF01 before U+1F600, although UTF-16 orders them the other way
      { userId: '！b', total: 10n },
    ]);
    expect(topContributorsOf(totals)).toHaveLength(topContributorsMax);
  });
});

describe('replay (foldOnce, the guard BatchDocuments applies)', () => {
  it('an event at or below the position already folded changes nothing; a later one is folded', () => {
    const events = [
      on('a', activated('b1', 'profile', 'u', 10)),
      on('b', activated('b2', 'profile', 'u', 20)),
      on('a', expired('b1', 'profile', 'u', 10)),
    ];
    const step = (current: Positioned<ReturnType<typeof emptyUserVisibility>>, event: ServiceEvent) =>
      foldOnce(current, event.position, (doc) => evolveUserVisibility(doc, event));
    const once = events.reduce(step, { doc: emptyUserVisibility('u'), position: -1 });
    expect(once.doc).toMatchObject({ visibilityScore: 20n, activeBoostCount: 1, boostsReceived: 2 });
    expect(once.position).toBe(events[2]?.position);
    for (const event of events) expect(step(once, event)).toBe(once);
    expect(events.reduce(step, once)).toBe(once);
    const later = step(once, on('c', activated('b3', 'profile', 'u', 5)));
    expect(later.doc.visibilityScore).toBe(25n);
  });
});

describe('what else an event changes', () => {
  it('a boost touches its target through the target table, and is logged in the target type boost log', () => {
    const table = {
      profile: ['user_visibility', 'user_boost_events'],
      gig: ['gig_ranking', 'gig_boost_events'],
      clan: ['clan_reputation', 'clan_boost_events'],
    } as const;
    for (const [targetType, [documents, boostLog]] of Object.entries(table) as [
      BoostTargetType,
      (typeof table)[BoostTargetType],
    ][]) {
      for (const event of [activated('b', targetType, 't', 1), expired('b', targetType, 't', 1)]) {
        expect(documentsTouchedBy(on('booster', event))).toEqual({ [documents]: 't' });
        expect(logsOf(on('booster', event))).toEqual([{ log: boostLog, subjectId: 't' }]);
      }
    }
  });

  it('credits are logged under the account owner, and spending on a gig or clan under it too', () => {
    expect(logsOf(on('u', spent('profile', 'p', 1)))).toEqual([{ log: 'user_credit_events', subjectId: 'u' }]);
    expect(documentsTouchedBy(on('u', spent('other', 'p', 1)))).toEqual({});
    expect(logsOf(on('u', spent('clan', 'c', 1)))).toEqual([
      { log: 'user_credit_events', subjectId: 'u' },
      { log: 'clan_credit_events', subjectId: 'c' },
    ]);
    expect(documentsTouchedBy(on('u', contributed('c', 1)))).toEqual({
      clan_reputation: 'c',
      clan_contributors: JSON.stringify(['c', 'u']),
    });
    for (const event of onlyLogged) {
      expect(documentsTouchedBy(on('u', event))).toEqual({});
      expect(logsOf(on('u', event))).toEqual([{ log: 'user_credit_events', subjectId: 'u' }]);
    }
  });

  it('a boost names its active boost by booster and boost id: activation adds it, expiry removes it', () => {
    const activation = on('booster', activated('b', 'gig', 'g', 5));
    expect(activeBoostChangeOf(activation)).toEqual({
      id: JSON.stringify(['booster', 'b']),
      doc: {
        boostId: 'b',
        targetType: 'gig',
        targetId: 'g',
        boosterId: 'booster',
        amount: 5,
        expiresAt: t1,
        position: activation.position,
      },
    });
    expect(activeBoostChangeOf(on('booster', expired('b', 'gig', 'g', 5)))).toEqual({ id: JSON.stringify(['booster', 'b']) });
    expect(activeBoostChangeOf(on('booster', paid('g', 5)))).toBeUndefined();
  });
});
