import type { DocumentCodec } from '../readModels/batchDocuments.js';
import type { Doc } from '../readModels/readModelStore.js';
import { sortKeyOf, sortKeyText, totalOf, totalText } from '../readModels/totals.js';
import type {
  ClanContributorDocument,
  ClanReputationDocument,
  GigRankingDocument,
  TopContributor,
  UserVisibilityDocument,
} from './documents.js';

/**
 * How the service documents are stored (in the projection's read-model store and in the consumer kit's
 * service stores alike). JSON has no bigint: a total is stored as its decimal string, and a total a
 * ranking is ordered by (a score, a clan contributor's total) as a fixed-width sort key, which both
 * engines order as its value (readModels/totals.ts). Decoding also reads the numbers that versions
 * built before folds version 3 stored.
 */

const topContributor = (stored: { userId: string; total: unknown }): TopContributor => ({
  userId: stored.userId,
  total: totalOf(stored.total),
});

export const userVisibilityCodec: DocumentCodec<UserVisibilityDocument> = {
  decode: (stored) => {
    const doc = stored as unknown as Record<keyof UserVisibilityDocument, unknown>;
    return {
      ...(stored as unknown as UserVisibilityDocument),
      visibilityScore: sortKeyOf(doc.visibilityScore),
      activeBoostCredits: totalOf(doc.activeBoostCredits),
      boostCreditsReceived: totalOf(doc.boostCreditsReceived),
    };
  },
  encode: (doc): Doc => ({
    ...doc,
    visibilityScore: sortKeyText(doc.visibilityScore),
    activeBoostCredits: totalText(doc.activeBoostCredits),
    boostCreditsReceived: totalText(doc.boostCreditsReceived),
  }),
};

export const gigRankingCodec: DocumentCodec<GigRankingDocument> = {
  decode: (stored) => {
    const doc = stored as unknown as Record<keyof GigRankingDocument, unknown>;
    return {
      ...(stored as unknown as GigRankingDocument),
      rankScore: sortKeyOf(doc.rankScore),
      activeBoostCredits: totalOf(doc.activeBoostCredits),
      paymentsTotal: totalOf(doc.paymentsTotal),
      creditsSpentOn: totalOf(doc.creditsSpentOn),
    };
  },
  encode: (doc): Doc => ({
    ...doc,
    rankScore: sortKeyText(doc.rankScore),
    activeBoostCredits: totalText(doc.activeBoostCredits),
    paymentsTotal: totalText(doc.paymentsTotal),
    creditsSpentOn: totalText(doc.creditsSpentOn),
  }),
};

export const clanReputationCodec: DocumentCodec<ClanReputationDocument> = {
  decode: (stored) => {
    const doc = stored as unknown as Record<keyof ClanReputationDocument, unknown>;
    return {
      ...(stored as unknown as ClanReputationDocument),
      reputation: sortKeyOf(doc.reputation),
      contributionsTotal: totalOf(doc.contributionsTotal),
      topContributors: (doc.topContributors as { userId: string; total: unknown }[]).map(topContributor),
      activeBoostCredits: totalOf(doc.activeBoostCredits),
      creditsSpentOn: totalOf(doc.creditsSpentOn),
    };
  },
  encode: (doc): Doc => ({
    ...doc,
    reputation: sortKeyText(doc.reputation),
    contributionsTotal: totalText(doc.contributionsTotal),
    topContributors: doc.topContributors.map((c) => ({ userId: c.userId, total: totalText(c.total) })),
    activeBoostCredits: totalText(doc.activeBoostCredits),
    creditsSpentOn: totalText(doc.creditsSpentOn),
  }),
};

export const clanContributorCodec: DocumentCodec<ClanContributorDocument> = {
  decode: (stored) => ({ ...(stored as unknown as ClanContributorDocument), total: sortKeyOf(stored.total) }),
  encode: (doc): Doc => ({ ...doc, total: sortKeyText(doc.total) }),
};
