import { accountEventOf, type BoostTargetType, type RecordedEvent } from '../../../ledger/src/index.js';
import { BatchDocuments } from '../readModels/batchDocuments.js';
import type { ReadModelStore, Write } from '../readModels/readModelStore.js';
import { sortKeyOf } from '../readModels/totals.js';
import { VersionedProjection, type VersionedProjectionOptions } from '../readModels/versionedProjection.js';
import { activeBoostChangeOf, contributorId, documentsTouchedBy, logEntry, logEntryId, logsOf, type Touched } from './changes.js';
import { evolveClanContributor, evolveClanReputation, topContributorsOf } from './clanReputation.js';
import { serviceReadModelCollections } from './collections.js';
import { clanContributorCodec, clanReputationCodec, gigRankingCodec, userVisibilityCodec } from './documentCodecs.js';
import {
  emptyClanContributor,
  emptyClanReputation,
  emptyGigRanking,
  emptyUserVisibility,
  topContributorsMax,
  type ActiveBoostRef,
  type ClanContributorDocument,
  type ClanReputation,
  type ClanReputationDocument,
  type GigRanking,
  type GigRankingDocument,
  type ServiceEvent,
  type UserVisibility,
  type UserVisibilityDocument,
} from './documents.js';
import { evolveGigRanking } from './gigRanking.js';
import { ServiceReadModelQueries, type RankingCursor } from './serviceQueries.js';
import { evolveUserVisibility } from './userVisibility.js';

/**
 * The three services' read models (collections.ts), built from the log by one projection so they move
 * together. The projection only loads, folds and writes: what an event does to a user, a gig or a clan
 * is in the pure folds (userVisibility.ts, gigRanking.ts, clanReputation.ts), what else it changes in
 * changes.ts, and the reads in serviceQueries.ts.
 */

/** One event of a batch, decoded once, with the documents it touches. */
interface Decoded {
  readonly recorded: RecordedEvent;
  readonly event: ServiceEvent;
  readonly touched: Touched;
}

/** The documents one batch touches, loaded up front with one query per collection. */
interface BatchState {
  readonly users: BatchDocuments<UserVisibilityDocument>;
  readonly gigs: BatchDocuments<GigRankingDocument>;
  readonly clans: BatchDocuments<ClanReputationDocument>;
  readonly contributors: BatchDocuments<ClanContributorDocument>;
  /** Event-log entries, in log order (a builder commits them after every batch: `takeWritesAhead`). */
  logs: Write[];
  /** The last write per active boost: a boost activated and expired in one drain is only deleted. */
  readonly activeBoosts: Map<string, Write>;
  /** Clans whose contributors changed, and which of their contributors did. */
  readonly contributed: Map<string, Set<string>>;
}

export class ServiceReadModelsProjection extends VersionedProjection {
  readonly name = 'service_read_models';
  /**
   * 2: a gig's rank no longer counts payments between users (issue 11). 3: totals are exact bigints,
   * stored as decimal strings and scores as sort keys (issue 11).
   */
  readonly foldsVersion: number = 3;
  readonly collections = serviceReadModelCollections;
  readonly queries: ServiceReadModelQueries;

  constructor(store: ReadModelStore, options: VersionedProjectionOptions = {}) {
    super(store, options);
    this.queries = new ServiceReadModelQueries(store, () => this.readingVersion());
  }

  /** Everything folded since the last drain. */
  #state: BatchState | undefined;

  protected async project(events: readonly RecordedEvent[]): Promise<void> {
    const decoded: Decoded[] = [];
    const ids = { users: new Set<string>(), gigs: new Set<string>(), clans: new Set<string>(), contributors: new Set<string>() };
    for (const recorded of events) {
      const account = accountEventOf(recorded);
      if (account === undefined) continue;
      const event: ServiceEvent = { userId: account.userId, position: recorded.position, event: account.event };
      const touched = documentsTouchedBy(event);
      decoded.push({ recorded, event, touched });
      if (touched.user_visibility !== undefined) ids.users.add(touched.user_visibility);
      if (touched.gig_ranking !== undefined) ids.gigs.add(touched.gig_ranking);
      if (touched.clan_reputation !== undefined) ids.clans.add(touched.clan_reputation);
      if (touched.clan_contributors !== undefined) ids.contributors.add(touched.clan_contributors);
    }
    this.#state ??= {
      users: new BatchDocuments(this.store, this.writing('user_visibility'), emptyUserVisibility, userVisibilityCodec),
      gigs: new BatchDocuments(this.store, this.writing('gig_ranking'), emptyGigRanking, gigRankingCodec),
      clans: new BatchDocuments(this.store, this.writing('clan_reputation'), emptyClanReputation, clanReputationCodec),
      contributors: new BatchDocuments(
        this.store,
        this.writing('clan_contributors'),
        (id) => {
          const [clanId, userId] = JSON.parse(id) as [string, string];
          return emptyClanContributor(clanId, userId);
        },
        clanContributorCodec,
      ),
      logs: [],
      activeBoosts: new Map(),
      contributed: new Map(),
    };
    const state = this.#state;
    await Promise.all([
      state.users.load(ids.users),
      state.gigs.load(ids.gigs),
      state.clans.load(ids.clans),
      state.contributors.load(ids.contributors),
    ]);
    for (const one of decoded) this.#apply(state, one);
  }

  /** topContributors queries clan_contributors by clan while folding. */
  protected override readonly indexedWhileBuilding = ['clan_contributors'];

  protected reset(): void {
    this.#state = undefined;
  }

  /** Event-log entries are inserts keyed by log position, which no fold reads back. */
  protected override takeWritesAhead(): Write[] {
    const state = this.#state;
    if (state === undefined) return [];
    const logs = state.logs;
    state.logs = [];
    return logs;
  }

  protected async drain(): Promise<Write[]> {
    const state = this.#state;
    if (state === undefined) return [];
    this.#state = undefined;
    await this.#rankContributors(state);
    return [
      ...state.logs,
      ...state.activeBoosts.values(),
      ...state.users.writes(),
      ...state.gigs.writes(),
      ...state.clans.writes(),
      ...state.contributors.writes(),
    ];
  }

  /** Folds one event: its log entries, its active boost, and each document it touches (unless already folded). */
  #apply(state: BatchState, { recorded, event, touched }: Decoded): void {
    const { position } = event;
    const boost = activeBoostChangeOf(event);
    if (boost !== undefined) {
      const collection = this.writing('active_boosts');
      // A put at its position: a boost id reused after its expiry replaces the old document.
      state.activeBoosts.set(
        boost.id,
        boost.doc === undefined
          ? { op: 'delete', collection, id: boost.id }
          : { op: 'put', position, collection, id: boost.id, doc: boost.doc },
      );
    }
    for (const { log, subjectId } of logsOf(event)) {
      // Keyed by log position (an event appears at most once per log): ids only ever grow, so
      // entries are appended to the end of the collection's key order instead of scattered in it.
      state.logs.push({
        op: 'insert',
        collection: this.writing(log),
        id: logEntryId(position),
        doc: logEntry(recorded, event, log, subjectId),
      });
    }
    if (touched.user_visibility !== undefined)
      state.users.update(touched.user_visibility, position, (doc) => evolveUserVisibility(doc, event));
    if (touched.gig_ranking !== undefined)
      state.gigs.update(touched.gig_ranking, position, (doc) => evolveGigRanking(doc, event));
    let contributor: ClanContributorDocument | undefined;
    if (touched.clan_contributors !== undefined) {
      state.contributors.update(touched.clan_contributors, position, (doc) => evolveClanContributor(doc, event));
      contributor = state.contributors.get(touched.clan_contributors);
      let changed = state.contributed.get(contributor.clanId);
      if (changed === undefined) state.contributed.set(contributor.clanId, (changed = new Set()));
      changed.add(contributor.userId);
    }
    if (touched.clan_reputation !== undefined)
      state.clans.update(touched.clan_reputation, position, (doc) => evolveClanReputation(doc, event, contributor));
  }

  /**
   * Each clan's top contributors, once per batch: the stored top (as many more as changed in this
   * batch) merged with this batch's totals. Totals only grow, so a contributor outside that stored
   * top, unchanged here, is behind at least `topContributorsMax` others and cannot be in the top.
   */
  async #rankContributors(state: BatchState): Promise<void> {
    for (const [clanId, changed] of state.contributed) {
      const stored = await this.store.find(this.writing('clan_contributors'), {
        where: { clanId },
        orderBy: [
          ['total', -1],
          ['userId', 1],
        ],
        limit: topContributorsMax + changed.size,
      });
      const totals = new Map(stored.map((doc) => [doc.userId as string, sortKeyOf(doc.total)]));
      for (const userId of changed) totals.set(userId, state.contributors.get(contributorId(clanId, userId)).total);
      state.clans.set(clanId, { ...state.clans.get(clanId), topContributors: topContributorsOf(totals) });
    }
  }

  // The queries (serviceQueries.ts), here too so that a reader holds one object per read model.

  activeBoostsOf(targetType: BoostTargetType, targetId: string, version?: number): Promise<ActiveBoostRef[]> {
    return this.queries.activeBoostsOf(targetType, targetId, version);
  }
  userVisibility(userId: string): Promise<UserVisibility> {
    return this.queries.userVisibility(userId);
  }
  gig(gigId: string): Promise<GigRanking | undefined> {
    return this.queries.gig(gigId);
  }
  clanReputation(clanId: string): Promise<ClanReputation> {
    return this.queries.clanReputation(clanId);
  }
  gigRanking(limit: number, after?: RankingCursor): Promise<GigRanking[]> {
    return this.queries.gigRanking(limit, after);
  }
  clanRanking(limit: number, after?: RankingCursor): Promise<ClanReputation[]> {
    return this.queries.clanRanking(limit, after);
  }
  userBoostEvents(userId: string, limit: number): Promise<Record<string, unknown>[]> {
    return this.queries.userBoostEvents(userId, limit);
  }
}
