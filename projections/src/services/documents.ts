import { type AccountEvent } from '../../../ledger/src/index.js';

/**
 * The three services' documents, as readers see them and as the folds evolve them. Plain data: nothing
 * here knows the read-model store, so the folds over these (userVisibility.ts, gigRanking.ts,
 * clanReputation.ts) can run anywhere — in the projection, in a test, in a consumer of the fan-out.
 *
 * Scores are pure functions of the documents (docs/reference/read-models.md). A boost raises its
 * target's score from BoostActivated until its BoostExpired, which removes exactly its share; nothing
 * here reads the clock.
 */

/**
 * An account event as the folds see it: `userId` owns the account (the stream) it happened on — the
 * booster of a boost, the payer of a payment, the contributor of a contribution — and `position` is
 * where it sits in the log.
 */
export interface ServiceEvent {
  readonly userId: string;
  readonly position: number;
  readonly event: AccountEvent;
}

export interface ActiveBoostRef {
  readonly boostId: string;
  readonly boosterId: string;
  readonly amount: number;
  readonly expiresAt: string;
}

/*
 * Totals are bigints: a user's own balance is bounded by the ledger, but a sum over many users — the
 * credits boosting one profile, gig or clan, spent on it, paid for it, contributed to it — is not, and
 * must stay exact past 2^53 without ever stopping a fold (readModels/totals.ts). Counts stay numbers:
 * each is at most the number of events, which positions bound to safe integers.
 */

export interface UserVisibility {
  readonly userId: string;
  readonly visibilityScore: bigint;
  /** The newest active boosts (at most `activeBoostsListedMax`), from the active_boosts table. */
  readonly activeBoosts: readonly ActiveBoostRef[];
  readonly activeBoostCount: number;
  readonly activeBoostCredits: bigint;
  readonly lastBoostAt: string | null;
  readonly boostsReceived: number;
  readonly boostCreditsReceived: bigint;
}

export interface GigRanking {
  readonly gigId: string;
  readonly rankScore: bigint;
  /** The newest active boosts (at most `activeBoostsListedMax`), from the active_boosts table. */
  readonly activeBoosts: readonly ActiveBoostRef[];
  readonly activeBoostCount: number;
  readonly activeBoostCredits: bigint;
  readonly paymentsTotal: bigint;
  readonly paymentsCount: number;
  readonly creditsSpentOn: bigint;
  readonly lastBoostAt: string | null;
}

export interface TopContributor {
  readonly userId: string;
  readonly total: bigint;
}

export interface ClanReputation {
  readonly clanId: string;
  readonly reputation: bigint;
  readonly contributionsTotal: bigint;
  readonly contributors: number;
  readonly topContributors: readonly TopContributor[];
  /** The newest active boosts (at most `activeBoostsListedMax`), from the active_boosts table. */
  readonly activeBoosts: readonly ActiveBoostRef[];
  readonly activeBoostCount: number;
  readonly activeBoostCredits: bigint;
  readonly creditsSpentOn: bigint;
  readonly lastBoostAt: string | null;
}

/** How many contributors `topContributors` keeps. */
export const topContributorsMax = 5;

/** How many active boosts a document lists (the count and credits cover all of them). */
export const activeBoostsListedMax = 100;

/** The documents as stored and folded: the active boosts themselves live in their own collection. */
export type UserVisibilityDocument = Omit<UserVisibility, 'activeBoosts'>;
export type GigRankingDocument = Omit<GigRanking, 'activeBoosts'>;
export type ClanReputationDocument = Omit<ClanReputation, 'activeBoosts'>;

/** One user's contributions to one clan (`clan_contributors`). */
export type ClanContributorDocument = {
  readonly clanId: string;
  readonly userId: string;
  readonly total: bigint;
  /** Position of their first contribution (-1 before it). */
  readonly since: number;
};

/**
 * Score formulas, documented in docs/reference/read-models.md. A score only grows by credits that left
 * the actor's control for good — boosts (paid to `platform:boosts`), spends on the target (to
 * `platform:spending`), clan contributions (to the clan's account, which nothing ever debits). Payments
 * between users (`paymentsTotal`, `paymentsCount`) are shown beside a gig's score, never in it: two
 * accounts paying each other back and forth for a gig would otherwise raise its rank at no cost.
 */
export const scores = {
  visibility: (doc: Omit<UserVisibilityDocument, 'visibilityScore'>): bigint => doc.activeBoostCredits,
  rank: (doc: Omit<GigRankingDocument, 'rankScore'>): bigint => 100n * doc.activeBoostCredits + doc.creditsSpentOn,
  reputation: (doc: Omit<ClanReputationDocument, 'reputation'>): bigint => doc.contributionsTotal + 2n * doc.activeBoostCredits,
};

export const emptyUserVisibility = (userId: string): UserVisibilityDocument => ({
  userId,
  visibilityScore: 0n,
  activeBoostCount: 0,
  activeBoostCredits: 0n,
  lastBoostAt: null,
  boostsReceived: 0,
  boostCreditsReceived: 0n,
});

export const emptyGigRanking = (gigId: string): GigRankingDocument => ({
  gigId,
  rankScore: 0n,
  activeBoostCount: 0,
  activeBoostCredits: 0n,
  paymentsTotal: 0n,
  paymentsCount: 0,
  creditsSpentOn: 0n,
  lastBoostAt: null,
});

export const emptyClanReputation = (clanId: string): ClanReputationDocument => ({
  clanId,
  reputation: 0n,
  contributionsTotal: 0n,
  contributors: 0,
  topContributors: [],
  activeBoostCount: 0,
  activeBoostCredits: 0n,
  creditsSpentOn: 0n,
  lastBoostAt: null,
});

export const emptyClanContributor = (clanId: string, userId: string): ClanContributorDocument => ({
  clanId,
  userId,
  total: 0n,
  since: -1,
});

/** A fresh document the fold built, whose score it sets before handing it out. */
export type Unscored<T> = { -readonly [K in keyof T]: T[K] };
