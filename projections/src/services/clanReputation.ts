import assert from 'node:assert/strict';
import { addToTotal } from '../readModels/totals.js';
import {
  scores,
  topContributorsMax,
  type ClanContributorDocument,
  type ClanReputationDocument,
  type ServiceEvent,
  type TopContributor,
  type Unscored,
} from './documents.js';

/**
 * The clan service's folds. Pure: no store, no clock.
 *
 * A clan's contributor count needs to know whether a contribution made someone a contributor, which
 * only that contributor's document says: fold the contribution into the contributor first
 * (`evolveClanContributor`), then hand the result to `evolveClanReputation`.
 */

/** One user's contributions to one clan after one more event; only their own contributions to it change it. */
export const evolveClanContributor = (
  doc: ClanContributorDocument,
  { userId, position, event }: ServiceEvent,
): ClanContributorDocument => {
  if (event.type !== 'ClanContributionMade' || event.data.clanId !== doc.clanId || userId !== doc.userId) return doc;
  return { ...doc, total: addToTotal(doc.total, event.data.amount), since: doc.since < 0 ? position : doc.since };
};

/**
 * A clan's reputation after one more event. Boosts of the clan, credits spent on it and contributions
 * to it change it; any other event leaves the document as it is. For a contribution, `contributor` is
 * the contributor's document with this very event folded in: it counts a new contributor when this
 * event was their first (also right on a replay that finds the contributor already written but not
 * the clan). `topContributors` is ranked across the whole clan (`topContributorsOf`), not here.
 */
export const evolveClanReputation = (
  doc: ClanReputationDocument,
  { position, event }: ServiceEvent,
  contributor?: ClanContributorDocument,
): ClanReputationDocument => {
  switch (event.type) {
    case 'BoostActivated': {
      const { targetType, targetId, amount, activatedAt } = event.data;
      if (targetType !== 'clan' || targetId !== doc.clanId) return doc;
      return scored({
        ...doc,
        activeBoostCount: doc.activeBoostCount + 1,
        activeBoostCredits: addToTotal(doc.activeBoostCredits, amount),
        lastBoostAt: activatedAt,
      });
    }
    case 'BoostExpired': {
      // The event carries the boost's amount, so exactly its share comes off without a lookup.
      const { targetType, targetId, amount } = event.data;
      if (targetType !== 'clan' || targetId !== doc.clanId) return doc;
      return scored({
        ...doc,
        activeBoostCount: doc.activeBoostCount - 1,
        activeBoostCredits: addToTotal(doc.activeBoostCredits, -amount),
      });
    }
    case 'CreditsSpent': {
      const { targetType, targetId, amount } = event.data;
      if (targetType !== 'clan' || targetId !== doc.clanId) return doc;
      return scored({ ...doc, creditsSpentOn: addToTotal(doc.creditsSpentOn, amount) });
    }
    case 'ClanContributionMade': {
      const { clanId, amount } = event.data;
      if (clanId !== doc.clanId) return doc;
      assert.ok(contributor?.clanId === clanId, 'a contribution is folded into its contributor before its clan');
      return scored({
        ...doc,
        contributionsTotal: addToTotal(doc.contributionsTotal, amount),
        contributors: doc.contributors + (contributor.since === position ? 1 : 0),
      });
    }
    case 'CreditsPurchased':
    case 'CreditsEarned':
    case 'GigPaymentSent':
    case 'GigPaymentReceived':
      return doc;
  }
};

const scored = (doc: Unscored<ClanReputationDocument>): ClanReputationDocument => {
  doc.reputation = scores.reputation(doc);
  return doc;
};

/**
 * A clan's top contributors from candidates' totals (user id → total): the highest totals, ties by
 * user id in the stores' string order. Whoever may be in the top must be among the candidates.
 */
export const topContributorsOf = (totals: ReadonlyMap<string, bigint>): TopContributor[] =>
  [...totals]
    .map(([userId, total]) => ({ userId, total }))
    .sort((a, b) => (a.total === b.total ? byCodePoint(a.userId, b.userId) : b.total > a.total ? 1 : -1))
    .slice(0, topContributorsMax);

/**
 * String order as the stores sort (SQLite and MongoDB compare UTF-8 bytes, which is code point
 * order). JavaScript's `<` compares UTF-16 code units, which differs for characters past U+FFFF
 * against U+E000–U+FFFF: the top contributors merged here must be cut in the order the store used.
 */
export const byCodePoint = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
