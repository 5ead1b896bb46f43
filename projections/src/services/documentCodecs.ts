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

/** The fields of T that hold a bigint. */
type BigintField<T> = { [K in keyof T]-?: T[K] extends bigint ? K : never }[keyof T] & string;

/** A codec for a document whose bigint fields are stored as sort keys (`sortKeys`) or decimal strings (`totals`). */
const bigintFieldsCodec = <T extends object>(fields: {
  readonly sortKeys: readonly BigintField<T>[];
  readonly totals: readonly BigintField<T>[];
}): DocumentCodec<T> => ({
  decode: (stored) => {
    const doc: Record<string, unknown> = { ...stored };
    for (const field of fields.sortKeys) doc[field] = sortKeyOf(stored[field]);
    for (const field of fields.totals) doc[field] = totalOf(stored[field]);
    return doc as T;
  },
  encode: (doc): Doc => {
    const stored: Record<string, unknown> = { ...(doc as Record<string, unknown>) };
    for (const field of fields.sortKeys) stored[field] = sortKeyText(doc[field] as bigint);
    for (const field of fields.totals) stored[field] = totalText(doc[field] as bigint);
    return stored;
  },
});

export const userVisibilityCodec = bigintFieldsCodec<UserVisibilityDocument>({
  sortKeys: ['visibilityScore'],
  totals: ['activeBoostCredits', 'boostCreditsReceived'],
});

export const gigRankingCodec = bigintFieldsCodec<GigRankingDocument>({
  sortKeys: ['rankScore'],
  totals: ['activeBoostCredits', 'paymentsTotal', 'creditsSpentOn'],
});

/** A clan's fields, and each of its top contributors' totals. */
const clanFields = bigintFieldsCodec<ClanReputationDocument>({
  sortKeys: ['reputation'],
  totals: ['contributionsTotal', 'activeBoostCredits', 'creditsSpentOn'],
});
export const clanReputationCodec: DocumentCodec<ClanReputationDocument> = {
  decode: (stored) => ({
    ...clanFields.decode(stored),
    topContributors: (stored.topContributors as { userId: string; total: unknown }[]).map((c): TopContributor => ({
      userId: c.userId,
      total: totalOf(c.total),
    })),
  }),
  encode: (doc): Doc => ({
    ...clanFields.encode(doc),
    topContributors: doc.topContributors.map((c) => ({ userId: c.userId, total: totalText(c.total) })),
  }),
};

export const clanContributorCodec = bigintFieldsCodec<ClanContributorDocument>({ sortKeys: ['total'], totals: [] });
