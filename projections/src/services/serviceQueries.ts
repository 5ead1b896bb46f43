import { type BoostTargetType, type AccountEvent } from '../../../ledger/src/index.js';
import type { ReadModelStore, StoredDoc } from '../readModels/readModelStore.js';
import { physicalCollection } from '../readModels/versionedProjection.js';
import { scoreField, type RankedCollection } from './collections.js';
import { withoutBalance } from './changes.js';
import {
  activeBoostsListedMax,
  emptyClanReputation,
  emptyUserVisibility,
  type ActiveBoostRef,
  type ClanReputation,
  type GigRanking,
  type UserVisibility,
} from './documents.js';
import { clanReputationCodec, gigRankingCodec, userVisibilityCodec } from './documentCodecs.js';
import { sortKeyText } from '../readModels/totals.js';

/** A position in a ranking: the last row's score (exact) and id. */
export interface RankingCursor {
  readonly score: bigint;
  readonly id: string;
}

/**
 * The service read models' queries. Each answer resolves the readers' version once, so a document and
 * its active boosts always come from the same version, even while a rebuild switches readers.
 */
export class ServiceReadModelQueries {
  readonly #store: ReadModelStore;
  readonly #readingVersion: () => Promise<number>;

  constructor(store: ReadModelStore, readingVersion: () => Promise<number>) {
    this.#store = store;
    this.#readingVersion = readingVersion;
  }

  /** The newest active boosts of a target, oldest of them first. */
  async activeBoostsOf(targetType: BoostTargetType, targetId: string, version?: number): Promise<ActiveBoostRef[]> {
    const [boosts] = await this.#activeBoostsOfEach(targetType, [targetId], version ?? (await this.#readingVersion()));
    return boosts ?? [];
  }

  /**
   * The newest active boosts of each of several targets (a ranking page's), oldest of them first: one
   * request to the store however many targets (`findEach`), each target with its own limit.
   */
  async #activeBoostsOfEach(
    targetType: BoostTargetType,
    targetIds: readonly string[],
    version: number,
  ): Promise<ActiveBoostRef[][]> {
    const answers = await this.#store.findEach(
      physicalCollection('active_boosts', version),
      { orderBy: [['position', -1]], limit: activeBoostsListedMax },
      targetIds.map((targetId) => ({ targetType, targetId })),
    );
    return answers.map((docs) =>
      docs.reverse().map((d) => ({
        boostId: d.boostId as string,
        boosterId: d.boosterId as string,
        amount: d.amount as number,
        expiresAt: d.expiresAt as string,
      })),
    );
  }

  /** A user's visibility; a user nobody boosted has the empty document (score 0). */
  async userVisibility(userId: string): Promise<UserVisibility> {
    const version = await this.#readingVersion();
    const found = await this.#document('user_visibility', userId, version);
    const stored = found === undefined ? emptyUserVisibility(userId) : userVisibilityCodec.decode(found);
    return { ...stored, activeBoosts: await this.activeBoostsOf('profile', userId, version) };
  }

  async gig(gigId: string): Promise<GigRanking | undefined> {
    const version = await this.#readingVersion();
    const found = await this.#document('gig_ranking', gigId, version);
    if (found === undefined) return undefined;
    return { ...gigRankingCodec.decode(found), activeBoosts: await this.activeBoostsOf('gig', gigId, version) };
  }

  /** A clan's reputation; a clan nothing happened to has the empty document (reputation 0). */
  async clanReputation(clanId: string): Promise<ClanReputation> {
    const version = await this.#readingVersion();
    const found = await this.#document('clan_reputation', clanId, version);
    const stored = found === undefined ? emptyClanReputation(clanId) : clanReputationCodec.decode(found);
    return { ...stored, activeBoosts: await this.activeBoostsOf('clan', clanId, version) };
  }

  /**
   * A page of a ranking, best first; ties broken by id ascending, so the order is total and a cursor
   * (the last row's score and id) continues exactly where the page ended. Two requests to the store
   * whatever the page size: the page, then the active boosts of all its rows (`findEach`).
   */
  async gigRanking(limit: number, after?: RankingCursor): Promise<GigRanking[]> {
    const version = await this.#readingVersion();
    const docs = (await this.#page('gig_ranking', version, limit, after)).map(gigRankingCodec.decode);
    const boosts = await this.#activeBoostsOfEach(
      'gig',
      docs.map((doc) => doc.gigId),
      version,
    );
    return docs.map((doc, i) => ({ ...doc, activeBoosts: boosts[i] ?? [] }));
  }

  async clanRanking(limit: number, after?: RankingCursor): Promise<ClanReputation[]> {
    const version = await this.#readingVersion();
    const docs = (await this.#page('clan_reputation', version, limit, after)).map(clanReputationCodec.decode);
    const boosts = await this.#activeBoostsOfEach(
      'clan',
      docs.map((doc) => doc.clanId),
      version,
    );
    return docs.map((doc, i) => ({ ...doc, activeBoosts: boosts[i] ?? [] }));
  }

  /** The user's boost events (activations and expiries), newest first. */
  async userBoostEvents(userId: string, limit: number): Promise<Record<string, unknown>[]> {
    const docs = await this.#store.find(physicalCollection('user_boost_events', await this.#readingVersion()), {
      where: { subjectId: userId },
      orderBy: [['_id', -1]], // the zero-padded position
      limit,
    });
    // Entries written before balances were left out of these logs lose them here too.
    return docs.map(withoutStoreFields).map((entry) => ({ ...entry, data: withoutBalance(entry.data as AccountEvent['data']) }));
  }

  async #document(
    collection: 'user_visibility' | RankedCollection,
    id: string,
    version: number,
  ): Promise<Record<string, unknown> | undefined> {
    const found = await this.#store.get(physicalCollection(collection, version), id);
    return found === undefined ? undefined : withoutStoreFields(found);
  }

  async #page(
    collection: RankedCollection,
    version: number,
    limit: number,
    after?: RankingCursor,
  ): Promise<Record<string, unknown>[]> {
    const docs = await this.#store.find(physicalCollection(collection, version), {
      orderBy: [
        [scoreField[collection], -1],
        ['_id', 1],
      ],
      limit,
      // Scores are stored as fixed-width sort keys, which order as the exact values do.
      ...(after === undefined ? {} : { after: [sortKeyText(after.score), after.id] }),
    });
    return docs.map(withoutStoreFields);
  }
}

const withoutStoreFields = (doc: StoredDoc): Record<string, unknown> => {
  const { _id, _position, ...rest } = doc;
  return rest;
};
