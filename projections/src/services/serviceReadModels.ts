import { accountEventOf } from '../../../ledger/src/accounts/accountEvent.js';
import type { AccountEvent } from '../../../ledger/src/accounts/events.js';
import { addCredits } from '../../../ledger/src/accounts/postings.js';
import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import { BatchDocuments } from '../readModels/batchDocuments.js';
import type { CollectionSpec, Doc, ReadModelStore, StoredDoc, Write } from '../readModels/readModelStore.js';
import { physicalCollection, VersionedProjection, type VersionedProjectionOptions } from '../readModels/versionedProjection.js';

/**
 * The three services' read models, with the seed's names, built from the log by one projection:
 *
 * - user service: `user_visibility`, `user_boost_events`, `user_credit_events`
 * - gig service: `gig_ranking`, `gig_boost_events`, `gig_credit_events`
 * - clan service: `clan_reputation`, `clan_boost_events`, `clan_credit_events`
 *
 * Scores are pure functions of the documents (docs/reference/read-models.md). A boost raises its
 * target's score from BoostActivated until its BoostExpired, which removes exactly its share; nothing
 * here reads the clock.
 */

export interface ActiveBoostRef {
  readonly boostId: string;
  readonly boosterId: string;
  readonly amount: number;
  readonly expiresAt: string;
}

export interface UserVisibility {
  readonly userId: string;
  readonly visibilityScore: number;
  /** The newest active boosts (at most `activeBoostsListedMax`), from the active_boosts table. */
  readonly activeBoosts: readonly ActiveBoostRef[];
  readonly activeBoostCount: number;
  readonly activeBoostCredits: number;
  readonly lastBoostAt: string | null;
  readonly boostsReceived: number;
  readonly boostCreditsReceived: number;
}

export interface GigRanking {
  readonly gigId: string;
  readonly rankScore: number;
  /** The newest active boosts (at most `activeBoostsListedMax`), from the active_boosts table. */
  readonly activeBoosts: readonly ActiveBoostRef[];
  readonly activeBoostCount: number;
  readonly activeBoostCredits: number;
  readonly paymentsTotal: number;
  readonly paymentsCount: number;
  readonly creditsSpentOn: number;
  readonly lastBoostAt: string | null;
}

export interface ClanReputation {
  readonly clanId: string;
  readonly reputation: number;
  readonly contributionsTotal: number;
  readonly contributors: number;
  readonly topContributors: readonly { readonly userId: string; readonly total: number }[];
  /** The newest active boosts (at most `activeBoostsListedMax`), from the active_boosts table. */
  readonly activeBoosts: readonly ActiveBoostRef[];
  readonly activeBoostCount: number;
  readonly activeBoostCredits: number;
  readonly creditsSpentOn: number;
  readonly lastBoostAt: string | null;
}

/** How many contributors `topContributors` keeps. */
export const topContributorsMax = 5;

/** How many active boosts a document lists (the count and credits cover all of them). */
export const activeBoostsListedMax = 100;

/** Stored documents: the active boosts themselves live in their own collection, not in the document. */
type Plain<T> = Omit<T, 'activeBoosts'>;
type Stored<T> = Plain<T> & Doc;
type StoredUser = Stored<UserVisibility>;
type StoredGig = Stored<GigRanking>;
type StoredClan = Stored<ClanReputation>;

/** Score formulas, documented in docs/reference/read-models.md. */
export const scores = {
  visibility: (doc: Omit<Plain<UserVisibility>, 'visibilityScore'>): number => doc.activeBoostCredits,
  rank: (doc: Omit<Plain<GigRanking>, 'rankScore'>): number => 100 * doc.activeBoostCredits + doc.paymentsTotal,
  reputation: (doc: Omit<Plain<ClanReputation>, 'reputation'>): number => doc.contributionsTotal + 2 * doc.activeBoostCredits,
};

const emptyUser = (userId: string): StoredUser => ({
  userId,
  visibilityScore: 0,
  activeBoostCount: 0,
  activeBoostCredits: 0,
  lastBoostAt: null,
  boostsReceived: 0,
  boostCreditsReceived: 0,
});
const emptyGig = (gigId: string): StoredGig => ({
  gigId,
  rankScore: 0,
  activeBoostCount: 0,
  activeBoostCredits: 0,
  paymentsTotal: 0,
  paymentsCount: 0,
  creditsSpentOn: 0,
  lastBoostAt: null,
});
const emptyClan = (clanId: string): StoredClan => ({
  clanId,
  reputation: 0,
  contributionsTotal: 0,
  contributors: 0,
  topContributors: [],
  activeBoostCount: 0,
  activeBoostCredits: 0,
  creditsSpentOn: 0,
  lastBoostAt: null,
});

type Collection = 'user_visibility' | 'gig_ranking' | 'clan_reputation';
type EventLog =
  | 'user_boost_events'
  | 'user_credit_events'
  | 'gig_boost_events'
  | 'gig_credit_events'
  | 'clan_boost_events'
  | 'clan_credit_events';

const scoreField = { user_visibility: 'visibilityScore', gig_ranking: 'rankScore', clan_reputation: 'reputation' } as const;
const databaseOf = (collection: string): CollectionSpec['database'] =>
  collection.startsWith('user_') ? 'user_service' : collection.startsWith('gig_') ? 'gig_service' : 'clan_service';
const eventLogs: readonly EventLog[] = [
  'user_boost_events',
  'user_credit_events',
  'gig_boost_events',
  'gig_credit_events',
  'clan_boost_events',
  'clan_credit_events',
];

/** The read model's collections with the indexes their queries use (each version has its own copy). */
export const serviceReadModelCollections: readonly CollectionSpec[] = [
  ...(['user_visibility', 'gig_ranking', 'clan_reputation'] as const).map((name) => ({
    name,
    database: databaseOf(name),
    indexes: [
      [
        [scoreField[name], -1],
        ['_id', 1],
      ],
    ] as const,
  })),
  // Entries are keyed by their zero-padded log position, so the key orders them: the index needs to
  // read only one field of each document (building it is a good part of a rebuild).
  ...eventLogs.map((name) => ({
    name,
    database: databaseOf(name),
    indexes: [
      [
        ['subjectId', 1],
        ['_id', -1],
      ],
    ] as const,
  })),
  {
    name: 'clan_contributors',
    database: 'clan_service',
    indexes: [
      [
        ['clanId', 1],
        ['total', -1],
        ['userId', 1],
      ],
    ],
  },
  // Active boosts of every target type; the user, gig and clan documents list theirs from here.
  {
    name: 'active_boosts',
    database: 'ledger',
    indexes: [
      [
        ['targetType', 1],
        ['targetId', 1],
        ['position', -1],
      ],
    ],
  },
];

interface Contributor extends Doc {
  readonly clanId: string;
  readonly userId: string;
  readonly total: number;
  /** Position of their first contribution. */
  readonly since: number;
}
/** An event-log entry's id: its log position, zero-padded so that string order is position order. */
const logEntryId = (position: number): string => position.toString().padStart(16, '0');
/** Boost ids are chosen per account: the booster's id and the boost id name an active boost. */
const activeBoostId = (boosterId: string, boostId: string): string => JSON.stringify([boosterId, boostId]);
const contributorId = (clanId: string, userId: string): string => JSON.stringify([clanId, userId]);

/** One event of a batch, decoded once. */
interface Decoded {
  readonly recorded: RecordedEvent;
  readonly actorId: string;
  readonly event: AccountEvent;
}

/** The documents one batch touches, loaded up front with one query per collection. */
interface BatchState {
  readonly users: BatchDocuments<StoredUser>;
  readonly gigs: BatchDocuments<StoredGig>;
  readonly clans: BatchDocuments<StoredClan>;
  readonly contributors: BatchDocuments<Contributor>;
  /** Event-log entries, in log order. */
  readonly logs: Write[];
  /** The last write per active boost: a boost activated and expired in one drain is only deleted. */
  readonly activeBoosts: Map<string, Write>;
  /** Clans whose contributors changed, and which of their contributors did. */
  readonly contributed: Map<string, Set<string>>;
}

const targetDocs = (
  state: BatchState,
  targetType: 'profile' | 'gig' | 'clan',
): BatchDocuments<StoredUser | StoredGig | StoredClan> =>
  targetType === 'profile' ? state.users : targetType === 'gig' ? state.gigs : state.clans;

export class ServiceReadModelsProjection extends VersionedProjection {
  readonly name = 'service_read_models';
  readonly collections = serviceReadModelCollections;

  constructor(store: ReadModelStore, options: VersionedProjectionOptions = {}) {
    super(store, options);
  }

  /** Everything folded since the last drain. */
  #state: BatchState | undefined;

  protected async project(events: readonly RecordedEvent[]): Promise<void> {
    const decoded: Decoded[] = [];
    const ids = { users: new Set<string>(), gigs: new Set<string>(), clans: new Set<string>(), contributors: new Set<string>() };
    for (const recorded of events) {
      const account = accountEventOf(recorded);
      if (account === undefined) continue;
      const { userId: actorId, event } = account;
      decoded.push({ recorded, actorId, event });
      switch (event.type) {
        case 'BoostActivated':
        case 'BoostExpired': {
          const { targetType, targetId } = event.data;
          (targetType === 'profile' ? ids.users : targetType === 'gig' ? ids.gigs : ids.clans).add(targetId);
          break;
        }
        case 'CreditsSpent':
          if (event.data.targetType === 'gig') ids.gigs.add(event.data.targetId);
          else if (event.data.targetType === 'clan') ids.clans.add(event.data.targetId);
          break;
        case 'GigPaymentSent':
          ids.gigs.add(event.data.gigId);
          break;
        case 'ClanContributionMade':
          ids.clans.add(event.data.clanId);
          ids.contributors.add(contributorId(event.data.clanId, actorId));
          break;
        case 'CreditsPurchased':
        case 'CreditsEarned':
        case 'GigPaymentReceived':
          break; // only logged: no document to load
      }
    }
    this.#state ??= {
      users: new BatchDocuments(this.store, this.writing('user_visibility'), emptyUser),
      gigs: new BatchDocuments(this.store, this.writing('gig_ranking'), emptyGig),
      clans: new BatchDocuments(this.store, this.writing('clan_reputation'), emptyClan),
      contributors: new BatchDocuments(this.store, this.writing('clan_contributors'), (id): Contributor => {
        const [clanId, userId] = JSON.parse(id) as [string, string];
        return { clanId, userId, total: 0, since: -1 };
      }),
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

  protected async drain(): Promise<Write[]> {
    const state = this.#state;
    if (state === undefined) return [];
    this.#state = undefined;
    await this.#rankContributors(state);
    const scored = <T extends Doc>(docs: BatchDocuments<T>, field: string, score: (doc: T) => number): void => {
      for (const [id] of docs.changed()) docs.set(id, { ...docs.get(id), [field]: score(docs.get(id)) });
    };
    scored(state.users, 'visibilityScore', scores.visibility);
    scored(state.gigs, 'rankScore', scores.rank);
    scored(state.clans, 'reputation', scores.reputation);
    return [
      ...state.logs,
      ...state.activeBoosts.values(),
      ...state.users.writes(),
      ...state.gigs.writes(),
      ...state.clans.writes(),
      ...state.contributors.writes(),
    ];
  }

  /**
   * Appends an event's entry to one of the event logs. (A method, not a closure inside #apply: a
   * closure made per event costs an allocation, and under tsx a naming call, for every event.)
   */
  #logEntry(state: BatchState, { recorded, actorId, event }: Decoded, log: EventLog, subjectId: string): void {
    const position = recorded.position;
    state.logs.push({
      op: 'insert',
      collection: this.writing(log),
      // Keyed by log position (an event appears at most once per log): ids only ever grow, so
      // entries are appended to the end of the collection's key order instead of scattered in it.
      id: logEntryId(position),
      // The event's envelope with its data nested (as in the history route): one document shape for
      // every event type, which also keeps folding and serialising these, the bulk of a rebuild, cheap.
      doc: {
        eventId: recorded.id,
        type: event.type,
        userId: actorId,
        subjectId,
        position,
        occurredAt: recorded.metadata.occurredAt ?? null,
        // Only a user's own credit log shows their balance; every other log (boosts received, a
        // gig's or a clan's events), which others may read, leaves it out — a self-boost included.
        data: log === 'user_credit_events' ? event.data : withoutBalance(event.data),
      },
    });
  }

  #apply(state: BatchState, decoded: Decoded): void {
    const { recorded, actorId, event } = decoded;
    const position = recorded.position;
    switch (event.type) {
      case 'BoostActivated': {
        const { boostId, targetType, targetId, amount, expiresAt, activatedAt } = event.data;
        // A put at its position: a boost id reused after its expiry replaces the old document.
        const id = activeBoostId(actorId, boostId);
        state.activeBoosts.set(id, {
          op: 'put',
          position,
          collection: this.writing('active_boosts'),
          id,
          doc: { boostId, targetType, targetId, boosterId: actorId, amount, expiresAt, position },
        });
        this.#logEntry(
          state,
          decoded,
          targetType === 'profile' ? 'user_boost_events' : targetType === 'gig' ? 'gig_boost_events' : 'clan_boost_events',
          targetId,
        );
        targetDocs(state, targetType).update(targetId, position, (doc) => {
          const boosted = {
            ...doc,
            activeBoostCount: doc.activeBoostCount + 1,
            activeBoostCredits: addCredits(doc.activeBoostCredits, amount),
            lastBoostAt: activatedAt,
          };
          if (targetType !== 'profile') return boosted;
          const user = boosted as StoredUser;
          return {
            ...user,
            boostsReceived: user.boostsReceived + 1,
            boostCreditsReceived: addCredits(user.boostCreditsReceived, amount),
          };
        });
        return;
      }
      case 'BoostExpired': {
        // The event carries the boost's amount, so exactly its share comes off without a lookup.
        const { boostId, targetType, targetId, amount } = event.data;
        const id = activeBoostId(actorId, boostId);
        state.activeBoosts.set(id, { op: 'delete', collection: this.writing('active_boosts'), id });
        this.#logEntry(
          state,
          decoded,
          targetType === 'profile' ? 'user_boost_events' : targetType === 'gig' ? 'gig_boost_events' : 'clan_boost_events',
          targetId,
        );
        targetDocs(state, targetType).update(targetId, position, (doc) => {
          return {
            ...doc,
            activeBoostCount: doc.activeBoostCount - 1,
            activeBoostCredits: addCredits(doc.activeBoostCredits, -amount),
          };
        });
        return;
      }
      case 'CreditsPurchased':
      case 'CreditsEarned':
      case 'GigPaymentReceived':
        this.#logEntry(state, decoded, 'user_credit_events', actorId);
        return;
      case 'CreditsSpent': {
        this.#logEntry(state, decoded, 'user_credit_events', actorId);
        const { targetType, targetId, amount } = event.data;
        if (targetType === 'gig') {
          this.#logEntry(state, decoded, 'gig_credit_events', targetId);
          state.gigs.update(targetId, position, (doc) => ({ ...doc, creditsSpentOn: addCredits(doc.creditsSpentOn, amount) }));
        } else if (targetType === 'clan') {
          this.#logEntry(state, decoded, 'clan_credit_events', targetId);
          state.clans.update(targetId, position, (doc) => ({ ...doc, creditsSpentOn: addCredits(doc.creditsSpentOn, amount) }));
        }
        return;
      }
      case 'GigPaymentSent': {
        this.#logEntry(state, decoded, 'user_credit_events', actorId);
        const { gigId, amount } = event.data;
        this.#logEntry(state, decoded, 'gig_credit_events', gigId);
        state.gigs.update(gigId, position, (doc) => ({
          ...doc,
          paymentsTotal: addCredits(doc.paymentsTotal, amount),
          paymentsCount: doc.paymentsCount + 1,
        }));
        return;
      }
      case 'ClanContributionMade': {
        const { clanId, amount } = event.data;
        this.#logEntry(state, decoded, 'user_credit_events', actorId);
        this.#logEntry(state, decoded, 'clan_credit_events', clanId);
        const key = contributorId(clanId, actorId);
        state.contributors.update(key, position, (doc) => ({
          ...doc,
          total: addCredits(doc.total, amount),
          since: doc.since < 0 ? position : doc.since,
        }));
        // Counted when this very event made them a contributor (also right on a replay that finds the
        // contributor already written but not the clan).
        const firstContribution = state.contributors.get(key).since === position;
        state.clans.update(clanId, position, (doc) => ({
          ...doc,
          contributionsTotal: addCredits(doc.contributionsTotal, amount),
          contributors: doc.contributors + (firstContribution ? 1 : 0),
        }));
        let changed = state.contributed.get(clanId);
        if (changed === undefined) state.contributed.set(clanId, (changed = new Set()));
        changed.add(actorId);
        return;
      }
    }
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
      const totals = new Map(stored.map((doc) => [doc.userId as string, doc.total as number]));
      for (const userId of changed) totals.set(userId, state.contributors.get(contributorId(clanId, userId)).total);
      const topContributors = [...totals]
        .map(([userId, total]) => ({ userId, total }))
        .sort((a, b) => b.total - a.total || byCodePoint(a.userId, b.userId))
        .slice(0, topContributorsMax);
      state.clans.set(clanId, { ...state.clans.get(clanId), topContributors });
    }
  }

  // Each answer resolves the readers' version once, so a document and its active boosts always come
  // from the same version, even while a rebuild switches readers.

  /** The newest active boosts of a target, oldest of them first. */
  async activeBoostsOf(targetType: 'profile' | 'gig' | 'clan', targetId: string, version?: number): Promise<ActiveBoostRef[]> {
    const collection = physicalCollection('active_boosts', version ?? (await this.readingVersion()));
    const docs = await this.store.find(collection, {
      where: { targetType, targetId },
      orderBy: [['position', -1]],
      limit: activeBoostsListedMax,
    });
    return docs.reverse().map((d) => ({
      boostId: d.boostId as string,
      boosterId: d.boosterId as string,
      amount: d.amount as number,
      expiresAt: d.expiresAt as string,
    }));
  }

  async #document(collection: Collection, id: string, version: number): Promise<Record<string, unknown> | undefined> {
    const found = await this.store.get(physicalCollection(collection, version), id);
    return found === undefined ? undefined : withoutStoreFields(found);
  }

  /** A user's visibility; a user nobody boosted has the empty document (score 0). */
  async userVisibility(userId: string): Promise<UserVisibility> {
    const version = await this.readingVersion();
    const stored = ((await this.#document('user_visibility', userId, version)) as StoredUser | undefined) ?? emptyUser(userId);
    return { ...stored, activeBoosts: await this.activeBoostsOf('profile', userId, version) };
  }

  async gig(gigId: string): Promise<GigRanking | undefined> {
    const version = await this.readingVersion();
    const stored = (await this.#document('gig_ranking', gigId, version)) as StoredGig | undefined;
    return stored === undefined ? undefined : { ...stored, activeBoosts: await this.activeBoostsOf('gig', gigId, version) };
  }

  /** A clan's reputation; a clan nothing happened to has the empty document (reputation 0). */
  async clanReputation(clanId: string): Promise<ClanReputation> {
    const version = await this.readingVersion();
    const stored = ((await this.#document('clan_reputation', clanId, version)) as StoredClan | undefined) ?? emptyClan(clanId);
    return { ...stored, activeBoosts: await this.activeBoostsOf('clan', clanId, version) };
  }

  /**
   * A page of a ranking, best first; ties broken by id ascending, so the order is total and a cursor
   * (the last row's score and id) continues exactly where the page ended.
   */
  async gigRanking(limit: number, after?: { score: number; id: string }): Promise<GigRanking[]> {
    const version = await this.readingVersion();
    const docs = (await this.#page('gig_ranking', version, limit, after)) as StoredGig[];
    return Promise.all(docs.map(async (doc) => ({ ...doc, activeBoosts: await this.activeBoostsOf('gig', doc.gigId, version) })));
  }

  async clanRanking(limit: number, after?: { score: number; id: string }): Promise<ClanReputation[]> {
    const version = await this.readingVersion();
    const docs = (await this.#page('clan_reputation', version, limit, after)) as StoredClan[];
    return Promise.all(
      docs.map(async (doc) => ({ ...doc, activeBoosts: await this.activeBoostsOf('clan', doc.clanId, version) })),
    );
  }

  async #page(
    collection: 'gig_ranking' | 'clan_reputation',
    version: number,
    limit: number,
    after?: { score: number; id: string },
  ): Promise<Record<string, unknown>[]> {
    const docs = await this.store.find(physicalCollection(collection, version), {
      orderBy: [
        [scoreField[collection], -1],
        ['_id', 1],
      ],
      limit,
      ...(after === undefined ? {} : { after: [after.score, after.id] }),
    });
    return docs.map(withoutStoreFields);
  }

  /** The user's boost events (activations and expiries), newest first. */
  async userBoostEvents(userId: string, limit: number): Promise<Record<string, unknown>[]> {
    const docs = await this.store.find(physicalCollection('user_boost_events', await this.readingVersion()), {
      where: { subjectId: userId },
      orderBy: [['_id', -1]], // the zero-padded position
      limit,
    });
    // Entries written before balances were left out of these logs lose them here too.
    return docs.map(withoutStoreFields).map((entry) => ({ ...entry, data: withoutBalance(entry.data as AccountEvent['data']) }));
  }
}

/**
 * String order as the stores sort (SQLite and MongoDB compare UTF-8 bytes, which is code point
 * order). JavaScript's `<` compares UTF-16 code units, which differs for characters past U+FFFF
 * against U+E000–U+FFFF: the top contributors merged here must be cut in the order the store used.
 */
export const byCodePoint = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const withoutBalance = (data: AccountEvent['data']): Omit<AccountEvent['data'], 'balanceAfter'> => {
  if (!('balanceAfter' in data)) return data;
  const { balanceAfter: _private, ...shared } = data;
  return shared;
};

const withoutStoreFields = (doc: StoredDoc): Record<string, unknown> => {
  const { _id, _position, ...rest } = doc;
  return rest;
};
