import Database from 'better-sqlite3';
import {
  clanContributorCodec,
  clanReputationCodec,
  documentsTouchedBy,
  emptyClanContributor,
  emptyClanReputation,
  emptyGigRanking,
  emptyUserVisibility,
  evolveClanContributor,
  evolveClanReputation,
  evolveGigRanking,
  evolveUserVisibility,
  gigRankingCodec,
  sortKeyOf,
  sortKeyText,
  topContributorsMax,
  topContributorsOf,
  type ClanContributorDocument,
  type ClanReputationDocument,
  type GigRankingDocument,
  type LedgerMessage,
  type ServiceEvent,
  type ServiceQueue,
  type UserVisibilityDocument,
  userVisibilityCodec,
  type DocumentCodec,
} from '../../../projections/src/index.js';

/**
 * The seed's three services as consumers of the fan-out: each keeps its own SQLite store, fed from its
 * queue alone, with the seed's tables (`<service>_boost_events`, `<service>_credit_events`) and its figures
 * (visibility, ranking, reputation) folded by the very functions the projections use
 * (projections/src/services/), so a service ends with the documents the projection builds from the log.
 */

export type ServiceName = 'user' | 'gig' | 'clan';
export const serviceNames: readonly ServiceName[] = ['user', 'gig', 'clan'];

type BoostMessageType = 'profile_boost' | 'gig_boost' | 'clan_boost';

/** Each service: its queue, the boosts it receives, its tables. */
export const services = {
  user: {
    queue: 'user_credit_queue',
    boostType: 'profile_boost',
    boostTargetType: 'profile',
    boostLog: 'user_boost_events',
    creditLog: 'user_credit_events',
  },
  gig: {
    queue: 'gig_credit_queue',
    boostType: 'gig_boost',
    boostTargetType: 'gig',
    boostLog: 'gig_boost_events',
    creditLog: 'gig_credit_events',
  },
  clan: {
    queue: 'clan_credit_queue',
    boostType: 'clan_boost',
    boostTargetType: 'clan',
    boostLog: 'clan_boost_events',
    creditLog: 'clan_credit_events',
  },
} as const satisfies Record<
  ServiceName,
  {
    queue: ServiceQueue;
    boostType: BoostMessageType;
    boostTargetType: 'profile' | 'gig' | 'clan';
    boostLog: string;
    creditLog: string;
  }
>;

/**
 * Which messages a service handles: the seed's "Event Types Handled", plus the expiry of a boost of its own
 * kind (the seed's services lower their scores when a boost expires). Every queue carries both routing keys,
 * so a service sees every message and acks the others unread.
 *
 * - user: profile_boost, credit_purchase, credit_spent, credit_earned
 * - gig: gig_boost, gig_payment, credit_spent with targetType gig
 * - clan: clan_boost, clan_contribution, credit_spent with targetType clan
 */
export const handles = (service: ServiceName, message: LedgerMessage): boolean => {
  const spec = services[service];
  switch (message.type) {
    case 'profile_boost':
    case 'gig_boost':
    case 'clan_boost':
      return message.type === spec.boostType;
    case 'boost_expired':
      return message.targetType === spec.boostTargetType;
    case 'credit_purchase':
    case 'credit_earned':
      return service === 'user';
    case 'credit_spent':
      return service === 'user' || message.targetType === service;
    case 'gig_payment':
      return service === 'gig';
    case 'clan_contribution':
      return service === 'clan';
  }
};

/** The folded documents a service keeps, by the projection's collection names. */
export const documentCollectionsOf = {
  user: ['user_visibility'],
  gig: ['gig_ranking'],
  clan: ['clan_reputation', 'clan_contributors'],
} as const satisfies Record<ServiceName, readonly string[]>;

type Documents = {
  user_visibility: UserVisibilityDocument;
  gig_ranking: GigRankingDocument;
  clan_reputation: ClanReputationDocument;
  clan_contributors: ClanContributorDocument;
};
type DocumentCollection = keyof Documents;

/** Documents are stored as the projection stores them (exact totals as decimal strings, scores as sort keys). */
const codecs: { [C in DocumentCollection]: DocumentCodec<Documents[C]> } = {
  user_visibility: userVisibilityCodec,
  gig_ranking: gigRankingCodec,
  clan_reputation: clanReputationCodec,
  clan_contributors: clanContributorCodec,
};

/**
 * One service's store. `apply` runs inside the transaction the kit's SqliteProcessedMessages opened on the
 * same connection, so a message's rows and its messageId commit together: no message is folded twice, none
 * is lost between the fold and the ack.
 */
export class ServiceStore {
  readonly db: Database.Database;
  readonly service: ServiceName;
  readonly #ownsDb: boolean;
  readonly #insertBoost: Database.Statement;
  readonly #insertCredit: Database.Statement;
  readonly #putActiveBoost: Database.Statement;
  readonly #deleteActiveBoost: Database.Statement;
  readonly #getDoc: Database.Statement<[string, string], { doc: string }>;
  readonly #putDoc: Database.Statement<[string, string, string]>;
  readonly #putContributor: Database.Statement<[string, string, string, string]>;
  readonly #topContributors: Database.Statement<[string, number], { userId: string; total: string }>;

  /** `database`: a path (opened and closed here) or the service's open connection. */
  constructor(service: ServiceName, database: string | Database.Database) {
    this.service = service;
    this.#ownsDb = typeof database === 'string';
    if (typeof database === 'string') {
      this.db = new Database(database);
      this.db.pragma('journal_mode = WAL');
    } else this.db = database;
    const { boostLog, creditLog } = services[service];
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ${boostLog} (
        position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, booster_id TEXT NOT NULL,
        target_id TEXT NOT NULL, boost_id TEXT NOT NULL, amount INTEGER NOT NULL, duration_hours REAL,
        expires_at TEXT NOT NULL, timestamp TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS ${boostLog}_target ON ${boostLog} (target_id, position);
      CREATE TABLE IF NOT EXISTS ${creditLog} (
        position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, subject_id TEXT NOT NULL,
        user_id TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, amount INTEGER NOT NULL,
        transfer_id TEXT, timestamp TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS ${creditLog}_subject ON ${creditLog} (subject_id, position);
      CREATE TABLE IF NOT EXISTS active_boosts (
        booster_id TEXT NOT NULL, boost_id TEXT NOT NULL, target_id TEXT NOT NULL, amount INTEGER NOT NULL,
        expires_at TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (booster_id, boost_id));
      CREATE TABLE IF NOT EXISTS documents (
        collection TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (collection, id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS clan_contributor_ranks (
        clan_id TEXT NOT NULL, user_id TEXT NOT NULL, total TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (clan_id, user_id)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS clan_contributor_ranks_rank ON clan_contributor_ranks (clan_id, total DESC, user_id);
    `);
    this.#insertBoost = this.db.prepare(
      `INSERT INTO ${boostLog} (position, event_id, type, booster_id, target_id, boost_id, amount, duration_hours, expires_at, timestamp)
       VALUES (@position, @eventId, @type, @userId, @targetId, @boostId, @amount, @duration, @expiresAt, @timestamp)`,
    );
    this.#insertCredit = this.db.prepare(
      `INSERT INTO ${creditLog} (position, event_id, type, subject_id, user_id, target_type, target_id, amount, transfer_id, timestamp)
       VALUES (@position, @eventId, @type, @subjectId, @userId, @targetType, @targetId, @amount, @transferId, @timestamp)`,
    );
    this.#putActiveBoost = this.db.prepare(
      `INSERT OR REPLACE INTO active_boosts (booster_id, boost_id, target_id, amount, expires_at, position)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#deleteActiveBoost = this.db.prepare('DELETE FROM active_boosts WHERE booster_id = ? AND boost_id = ?');
    this.#getDoc = this.db.prepare('SELECT doc FROM documents WHERE collection = ? AND id = ?');
    this.#putDoc = this.db.prepare('INSERT OR REPLACE INTO documents (collection, id, doc) VALUES (?, ?, ?)');
    this.#putContributor = this.db.prepare(
      'INSERT OR REPLACE INTO clan_contributor_ranks (clan_id, user_id, total, doc) VALUES (?, ?, ?, ?)',
    );
    // SQLite's BINARY collation compares UTF-8 bytes: the code point order topContributorsOf cuts in, and the
    // order of the fixed-width sort keys totals are kept as.
    this.#topContributors = this.db.prepare(
      'SELECT user_id AS userId, total FROM clan_contributor_ranks WHERE clan_id = ? ORDER BY total DESC, user_id LIMIT ?',
    );
    this.#migrateContributorTotals();
  }

  /**
   * Files a message in the service's tables and folds it into its documents, or does nothing for a type the
   * service does not handle. Returns whether it handled it. Synchronous: call it inside the transaction.
   */
  apply(message: LedgerMessage): boolean {
    if (!handles(this.service, message)) return false;
    if (message.type === 'boost_expired') {
      this.#insertBoost.run(message);
      this.#deleteActiveBoost.run(message.userId, message.boostId);
    } else if (message.type === 'profile_boost' || message.type === 'gig_boost' || message.type === 'clan_boost') {
      this.#insertBoost.run(message);
      this.#putActiveBoost.run(
        message.userId,
        message.boostId,
        message.targetId,
        message.amount,
        message.expiresAt,
        message.position,
      );
    } else {
      this.#insertCredit.run({
        ...message,
        subjectId: this.service === 'user' ? message.userId : message.targetId,
        transferId: 'transferId' in message ? (message.transferId ?? null) : null,
      });
    }
    this.#fold({ userId: message.userId, position: message.position, event: message.ledgerEvent });
    return true;
  }

  /** Every document of a collection, in id order. */
  documents<C extends DocumentCollection>(collection: C): Documents[C][] {
    if (collection === 'clan_contributors')
      return this.db
        .prepare<[], { doc: string }>('SELECT doc FROM clan_contributor_ranks ORDER BY clan_id, user_id')
        .all()
        .map((row) => codecs[collection].decode(JSON.parse(row.doc) as Record<string, unknown>));
    return this.db
      .prepare<[string], { doc: string }>('SELECT doc FROM documents WHERE collection = ? ORDER BY id')
      .all(collection)
      .map((row) => codecs[collection].decode(JSON.parse(row.doc) as Record<string, unknown>));
  }

  /**
   * Stores made before totals were exact kept contributor totals as SQLite integers (64 bits, and a
   * sum over a clan's contributors is not bounded): their rows move to the table of sort keys once.
   */
  #migrateContributorTotals(): void {
    const old = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clan_contributor_totals'").get();
    if (old === undefined) return;
    this.db.transaction(() => {
      const rows = this.db
        .prepare<[], { clanId: string; userId: string; doc: string }>(
          'SELECT clan_id AS clanId, user_id AS userId, doc FROM clan_contributor_totals',
        )
        .all();
      for (const { clanId, userId, doc } of rows) {
        const contributor = clanContributorCodec.decode(JSON.parse(doc) as Record<string, unknown>);
        this.#putContributor.run(
          clanId,
          userId,
          sortKeyText(contributor.total),
          JSON.stringify(clanContributorCodec.encode(contributor)),
        );
      }
      this.db.exec('DROP TABLE clan_contributor_totals');
    })();
  }

  close(): void {
    if (this.#ownsDb && this.db.open) this.db.close();
  }

  /** Every document the event touches that this service keeps, folded as the projection folds it. */
  #fold(event: ServiceEvent): void {
    const touched = documentsTouchedBy(event);
    if (this.service === 'user' && touched.user_visibility !== undefined) {
      const id = touched.user_visibility;
      this.#put('user_visibility', id, evolveUserVisibility(this.#get('user_visibility', id, emptyUserVisibility), event));
    }
    if (this.service === 'gig' && touched.gig_ranking !== undefined) {
      const id = touched.gig_ranking;
      this.#put('gig_ranking', id, evolveGigRanking(this.#get('gig_ranking', id, emptyGigRanking), event));
    }
    if (this.service !== 'clan') return;
    let contributor: ClanContributorDocument | undefined;
    if (touched.clan_contributors !== undefined && event.event.type === 'ClanContributionMade') {
      const clanId = event.event.data.clanId;
      const row = this.db
        .prepare<[string, string], { doc: string }>('SELECT doc FROM clan_contributor_ranks WHERE clan_id = ? AND user_id = ?')
        .get(clanId, event.userId);
      const before =
        row === undefined
          ? emptyClanContributor(clanId, event.userId)
          : clanContributorCodec.decode(JSON.parse(row.doc) as Record<string, unknown>);
      contributor = evolveClanContributor(before, event);
      this.#putContributor.run(
        clanId,
        event.userId,
        sortKeyText(contributor.total),
        JSON.stringify(clanContributorCodec.encode(contributor)),
      );
    }
    if (touched.clan_reputation !== undefined) {
      const id = touched.clan_reputation;
      let doc = evolveClanReputation(this.#get('clan_reputation', id, emptyClanReputation), event, contributor);
      if (contributor !== undefined) {
        const top = this.#topContributors.all(id, topContributorsMax);
        doc = { ...doc, topContributors: topContributorsOf(new Map(top.map((c) => [c.userId, sortKeyOf(c.total)]))) };
      }
      this.#put('clan_reputation', id, doc);
    }
  }

  #get<C extends Exclude<DocumentCollection, 'clan_contributors'>>(
    collection: C,
    id: string,
    empty: (id: string) => Documents[C],
  ): Documents[C] {
    const row = this.#getDoc.get(collection, id);
    return row === undefined ? empty(id) : codecs[collection].decode(JSON.parse(row.doc) as Record<string, unknown>);
  }

  #put<C extends Exclude<DocumentCollection, 'clan_contributors'>>(collection: C, id: string, doc: Documents[C]): void {
    this.#putDoc.run(collection, id, JSON.stringify(codecs[collection].encode(doc)));
  }
}
