import { describe, expect, it } from 'vitest';
import { type AccountEvent } from '../../../ledger/src/index.js';
import { evolveClanContributor, evolveClanReputation, topContributorsOf } from './clanReputation.js';
import { clanContributorCodec, clanReputationCodec, gigRankingCodec, userVisibilityCodec } from './documentCodecs.js';
import {
  emptyClanContributor,
  emptyClanReputation,
  emptyGigRanking,
  emptyUserVisibility,
  type ServiceEvent,
} from './documents.js';
import { evolveGigRanking } from './gigRanking.js';
import { evolveUserVisibility } from './userVisibility.js';

// Sums over many users have no bound: the folds keep them exact past 2^53 and never stop on their size.

const t0 = '2026-06-29T13:30:00.000Z';
const t1 = '2026-06-29T14:30:00.000Z';
const max = 1_000_000_000; // accountLimits.amountPerCommandMax
const near = 2n ** 53n - 5n;
let position = 0;
const on = (userId: string, event: AccountEvent): ServiceEvent => ({ userId, position: position++, event });
const boost = (targetType: 'profile' | 'gig' | 'clan', targetId: string): AccountEvent => ({
  type: 'BoostActivated',
  data: {
    boostId: `b${position}`,
    targetType,
    targetId,
    amount: max,
    durationHours: 1,
    activatedAt: t0,
    expiresAt: t1,
    counterparty: 'platform:boosts',
    balanceAfter: 0,
  },
});
const expiry = (targetType: 'profile' | 'gig' | 'clan', targetId: string): AccountEvent => ({
  type: 'BoostExpired',
  data: { boostId: 'b', targetType, targetId, amount: max, dueAt: t1, expiredAt: t1 },
});

describe('lifetime totals past 2^53', () => {
  it("a profile's boost credits stay exact", () => {
    const start = { ...emptyUserVisibility('u'), activeBoostCredits: near, visibilityScore: near, boostCreditsReceived: near };
    const doc = [on('a', boost('profile', 'u')), on('b', boost('profile', 'u')), on('a', expiry('profile', 'u'))].reduce(
      evolveUserVisibility,
      start,
    );
    expect(doc).toMatchObject({
      activeBoostCredits: near + 1_000_000_000n,
      visibilityScore: near + 1_000_000_000n,
      boostCreditsReceived: near + 2_000_000_000n,
    });
    expect(userVisibilityCodec.encode(doc)).toMatchObject({
      visibilityScore: '00000000000000009007200254740987',
      boostCreditsReceived: '9007201254740987',
    });
    expect(userVisibilityCodec.decode(userVisibilityCodec.encode(doc))).toEqual(doc);
  });

  it("a gig's boosts, spends and payments stay exact, and so does its score", () => {
    const start = { ...emptyGigRanking('g'), paymentsTotal: near, creditsSpentOn: near, activeBoostCredits: near };
    const events: AccountEvent[] = [
      boost('gig', 'g'),
      {
        type: 'CreditsSpent',
        data: { amount: max, targetType: 'gig', targetId: 'g', reason: '', counterparty: 'platform:spending', balanceAfter: 0 },
      },
      {
        type: 'GigPaymentSent',
        data: {
          transferId: 't',
          gigId: 'g',
          payeeId: 's',
          amount: max,
          counterparty: 'platform:gig-payments-in-transit',
          balanceAfter: 0,
        },
      },
    ];
    const doc = events.map((e, i) => on(`user${i}`, e)).reduce(evolveGigRanking, start);
    const boosted = near + 1_000_000_000n;
    const spentOn = near + 1_000_000_000n;
    expect(doc).toMatchObject({ activeBoostCredits: boosted, creditsSpentOn: spentOn, paymentsTotal: near + 1_000_000_000n });
    expect(doc.rankScore).toBe(100n * boosted + spentOn);
    expect(doc.rankScore.toString()).toBe('909727225728839687');
    expect(gigRankingCodec.decode(gigRankingCodec.encode(doc))).toEqual(doc);
  });

  it("a clan's contributions, its contributors' totals and its top contributors stay exact", () => {
    const contribution = on('ana', {
      type: 'ClanContributionMade',
      data: { clanId: 'c', amount: max, counterparty: 'clan:c', balanceAfter: 0 },
    });
    const contributor = evolveClanContributor({ ...emptyClanContributor('c', 'ana'), total: near, since: 0 }, contribution);
    expect(contributor.total).toBe(near + 1_000_000_000n);
    const clan = evolveClanReputation(
      { ...emptyClanReputation('c'), contributionsTotal: near, activeBoostCredits: near },
      contribution,
      contributor,
    );
    expect(clan.contributionsTotal).toBe(near + 1_000_000_000n);
    expect(clan.reputation).toBe(near + 1_000_000_000n + 2n * near);
    const boosted = evolveClanReputation(clan, on('ben', boost('clan', 'c')));
    expect(boosted.reputation).toBe(clan.reputation + 2_000_000_000n);
    const top = topContributorsOf(
      new Map([
        ['ana', contributor.total],
        ['ben', near + 999_999_999n],
        ['cai', 10n],
      ]),
    );
    expect(top).toEqual([
      { userId: 'ana', total: 9007200254740987n },
      { userId: 'ben', total: 9007200254740986n },
      { userId: 'cai', total: 10n },
    ]);
    const withTop = { ...boosted, topContributors: top };
    expect(clanReputationCodec.encode(withTop)).toMatchObject({
      topContributors: [{ userId: 'ana', total: '9007200254740987' }, {}, {}],
    });
    expect(clanReputationCodec.decode(clanReputationCodec.encode(withTop))).toEqual(withTop);
    expect(clanContributorCodec.decode(clanContributorCodec.encode(contributor))).toEqual(contributor);
  });
});
