import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import { accountStreamPrefix, type AccountEvent } from '../../../ledger/src/accounts/events.js';
import { toCommitted } from '../../../ledger/src/commandHandling/accountCommandHandler.js';
import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import type { SqliteReadModels } from '../readModels/sqliteReadModels.js';
import { VersionedProjection } from '../readModels/versionedProjection.js';
import { physicalTable } from '../readModels/versions.js';

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

/** Stored documents: the active boosts themselves live in their own table, not in the document. */
type Stored<T> = Omit<T, 'activeBoosts'>;
type StoredUser = Stored<UserVisibility>;
type StoredGig = Stored<GigRanking>;
type StoredClan = Stored<ClanReputation>;

/** Score formulas, documented in docs/reference/read-models.md. */
export const scores = {
  visibility: (doc: Omit<StoredUser, 'visibilityScore'>): number => doc.activeBoostCredits,
  rank: (doc: Omit<StoredGig, 'rankScore'>): number => 100 * doc.activeBoostCredits + doc.paymentsTotal,
  reputation: (doc: Omit<StoredClan, 'reputation'>): number => doc.contributionsTotal + 2 * doc.activeBoostCredits,
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
type EventLogTable =
  | 'user_boost_events'
  | 'user_credit_events'
  | 'gig_boost_events'
  | 'gig_credit_events'
  | 'clan_boost_events'
  | 'clan_credit_events';

const collections: Record<Collection, { key: string; score: string; scoreField: string }> = {
  user_visibility: { key: 'user_id', score: 'visibility_score', scoreField: 'visibilityScore' },
  gig_ranking: { key: 'gig_id', score: 'rank_score', scoreField: 'rankScore' },
  clan_reputation: { key: 'clan_id', score: 'reputation', scoreField: 'reputation' },
};
const eventLogs: readonly EventLogTable[] = [
  'user_boost_events',
  'user_credit_events',
  'gig_boost_events',
  'gig_credit_events',
  'clan_boost_events',
  'clan_credit_events',
];

/** The read model's tables (each version has its own copy; readers see views with these names). */
export const serviceReadModelTables: readonly string[] = [
  ...Object.keys(collections),
  ...eventLogs,
  'clan_contributors',
  'active_boosts',
];

/** Statements that write one version's physical tables. */
interface Writers {
  readonly get: Record<Collection, Database.Statement<[string], { doc: string }>>;
  readonly put: Record<Collection, Database.Statement<[string, number, string]>>;
  readonly log: Record<EventLogTable, Database.Statement<[string, string, string, number, string]>>;
  readonly activate: Database.Statement<[string, string, string, string, number, string, number]>;
  readonly expire: Database.Statement<[string]>;
  readonly contribution: {
    readonly add: Database.Statement<[string, string, number]>;
    readonly top: Database.Statement<[string, number], { user_id: string; total: number }>;
    readonly count: Database.Statement<[string], { n: number }>;
  };
}

const byCollection = <T>(make: (name: Collection) => T): Record<Collection, T> => ({
  user_visibility: make('user_visibility'),
  gig_ranking: make('gig_ranking'),
  clan_reputation: make('clan_reputation'),
});

export class ServiceReadModelsProjection extends VersionedProjection {
  readonly name = 'service_read_models';
  readonly tables = serviceReadModelTables;
  #writers: Writers | undefined;
  /**
   * Documents touched by the batch in hand: read once, changed in memory by every event of the batch
   * that concerns them, written once at its end (inside the same transaction).
   */
  #touched: Map<string, { collection: Collection; id: string; doc: object; score: number }> | undefined;
  #readers: Record<Collection, Database.Statement<[string], { doc: string }>> | undefined;

  constructor(models: SqliteReadModels, options: { version?: number } = {}) {
    super(models, options);
    this.init();
  }

  /** Readers go through the views, which always show the active version (prepared once they exist). */
  get #read(): Record<Collection, Database.Statement<[string], { doc: string }>> {
    this.#readers ??= byCollection((name) =>
      this.models.db.prepare(`SELECT doc FROM ${name} WHERE ${collections[name].key} = ?`),
    );
    return this.#readers;
  }

  protected createTables(version: number): void {
    const db = this.models.db;
    for (const [name, { key, score }] of Object.entries(collections)) {
      const table = physicalTable(name, version);
      db.exec(`CREATE TABLE IF NOT EXISTS ${table} (${key} TEXT PRIMARY KEY, ${score} INTEGER NOT NULL, doc TEXT NOT NULL);
               CREATE INDEX IF NOT EXISTS ${table}_by_score ON ${table} (${score} DESC, ${key} ASC);`);
    }
    for (const name of eventLogs) {
      const table = physicalTable(name, version);
      db.exec(`CREATE TABLE IF NOT EXISTS ${table} (event_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, doc TEXT NOT NULL);
               CREATE INDEX IF NOT EXISTS ${table}_by_subject ON ${table} (subject_id, position);`);
    }
    const boosts = physicalTable('active_boosts', version);
    db.exec(`CREATE TABLE IF NOT EXISTS ${boosts} (boost_id TEXT PRIMARY KEY, target_type TEXT NOT NULL, target_id TEXT NOT NULL, booster_id TEXT NOT NULL, amount INTEGER NOT NULL, expires_at TEXT NOT NULL, position INTEGER NOT NULL);
             CREATE INDEX IF NOT EXISTS ${boosts}_by_target ON ${boosts} (target_type, target_id, position DESC);`);
    const contributors = physicalTable('clan_contributors', version);
    db.exec(`CREATE TABLE IF NOT EXISTS ${contributors} (clan_id TEXT NOT NULL, user_id TEXT NOT NULL, total INTEGER NOT NULL, PRIMARY KEY (clan_id, user_id));
             CREATE INDEX IF NOT EXISTS ${contributors}_top ON ${contributors} (clan_id, total DESC, user_id ASC);`);
  }

  protected prepare(version: number): void {
    const db = this.models.db;
    const t = (name: string): string => physicalTable(name, version);
    this.#writers = {
      get: byCollection((name) => db.prepare(`SELECT doc FROM ${t(name)} WHERE ${collections[name].key} = ?`)),
      put: byCollection((name) =>
        db.prepare(`INSERT INTO ${t(name)} (${collections[name].key}, ${collections[name].score}, doc) VALUES (?, ?, ?)
                    ON CONFLICT (${collections[name].key}) DO UPDATE SET ${collections[name].score} = excluded.${collections[name].score}, doc = excluded.doc`),
      ),
      log: Object.fromEntries(
        eventLogs.map((name) => [
          name,
          db.prepare(`INSERT OR IGNORE INTO ${t(name)} (event_id, subject_id, type, position, doc) VALUES (?, ?, ?, ?, ?)`),
        ]),
      ) as Writers['log'],
      activate: db.prepare(
        `INSERT OR IGNORE INTO ${t('active_boosts')} (boost_id, target_type, target_id, booster_id, amount, expires_at, position) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      expire: db.prepare(`DELETE FROM ${t('active_boosts')} WHERE boost_id = ?`),
      contribution: {
        add: db.prepare(`INSERT INTO ${t('clan_contributors')} (clan_id, user_id, total) VALUES (?, ?, ?)
                         ON CONFLICT (clan_id, user_id) DO UPDATE SET total = total + excluded.total`),
        top: db.prepare(
          `SELECT user_id, total FROM ${t('clan_contributors')} WHERE clan_id = ? ORDER BY total DESC, user_id ASC LIMIT ?`,
        ),
        count: db.prepare(`SELECT COUNT(*) AS n FROM ${t('clan_contributors')} WHERE clan_id = ?`),
      },
    };
  }

  get #w(): Writers {
    assert.ok(this.#writers !== undefined, 'prepared by init');
    return this.#writers;
  }

  protected override beginBatch(): void {
    this.#touched = new Map();
  }

  protected override endBatch(): void {
    for (const { collection, id, doc, score } of this.#touched?.values() ?? [])
      this.#w.put[collection].run(id, score, JSON.stringify(doc));
    this.#touched = undefined;
  }

  protected apply(recorded: RecordedEvent): void {
    if (!recorded.stream.startsWith(accountStreamPrefix)) return;
    this.#apply(recorded.stream.slice(accountStreamPrefix.length), recorded, toCommitted(recorded).event);
  }

  #apply(actorId: string, recorded: RecordedEvent, event: AccountEvent): void {
    const logEntry = (table: EventLogTable, subjectId: string): void => {
      this.#w.log[table].run(
        recorded.id,
        subjectId,
        event.type,
        recorded.position,
        JSON.stringify({
          ...event.data,
          eventId: recorded.id,
          userId: actorId,
          occurredAt: recorded.metadata.occurredAt ?? null,
        }),
      );
    };
    switch (event.type) {
      case 'BoostActivated': {
        const { boostId, targetType, targetId, amount, expiresAt, activatedAt } = event.data;
        this.#w.activate.run(boostId, targetType, targetId, actorId, amount, expiresAt, recorded.position);
        const add = <T extends { activeBoostCount: number; activeBoostCredits: number }>(doc: T): T => ({
          ...doc,
          activeBoostCount: doc.activeBoostCount + 1,
          activeBoostCredits: doc.activeBoostCredits + amount,
          lastBoostAt: activatedAt,
        });
        if (targetType === 'profile') {
          logEntry('user_boost_events', targetId);
          this.#updateUser(targetId, (doc) => ({
            ...add(doc),
            boostsReceived: doc.boostsReceived + 1,
            boostCreditsReceived: doc.boostCreditsReceived + amount,
          }));
        } else if (targetType === 'gig') {
          logEntry('gig_boost_events', targetId);
          this.#updateGig(targetId, add);
        } else {
          logEntry('clan_boost_events', targetId);
          this.#updateClan(targetId, add);
        }
        return;
      }
      case 'BoostExpired': {
        // The event carries the boost's amount, so exactly its share comes off without a lookup.
        const { boostId, targetType, targetId, amount } = event.data;
        this.#w.expire.run(boostId);
        const remove = <T extends { activeBoostCount: number; activeBoostCredits: number }>(doc: T): T => ({
          ...doc,
          activeBoostCount: doc.activeBoostCount - 1,
          activeBoostCredits: doc.activeBoostCredits - amount,
        });
        if (targetType === 'profile') {
          logEntry('user_boost_events', targetId);
          this.#updateUser(targetId, remove);
        } else if (targetType === 'gig') {
          logEntry('gig_boost_events', targetId);
          this.#updateGig(targetId, remove);
        } else {
          logEntry('clan_boost_events', targetId);
          this.#updateClan(targetId, remove);
        }
        return;
      }
      case 'CreditsPurchased':
      case 'CreditsEarned':
        logEntry('user_credit_events', actorId);
        return;
      case 'CreditsSpent':
        logEntry('user_credit_events', actorId);
        if (event.data.targetType === 'gig') {
          logEntry('gig_credit_events', event.data.targetId);
          const amount = event.data.amount;
          this.#updateGig(event.data.targetId, (doc) => ({ ...doc, creditsSpentOn: doc.creditsSpentOn + amount }));
        } else if (event.data.targetType === 'clan') {
          logEntry('clan_credit_events', event.data.targetId);
          const amount = event.data.amount;
          this.#updateClan(event.data.targetId, (doc) => ({ ...doc, creditsSpentOn: doc.creditsSpentOn + amount }));
        }
        return;
      case 'GigPaymentSent': {
        logEntry('user_credit_events', actorId);
        logEntry('gig_credit_events', event.data.gigId);
        const amount = event.data.amount;
        this.#updateGig(event.data.gigId, (doc) => ({
          ...doc,
          paymentsTotal: doc.paymentsTotal + amount,
          paymentsCount: doc.paymentsCount + 1,
        }));
        return;
      }
      case 'GigPaymentReceived':
        logEntry('user_credit_events', actorId);
        return;
      case 'ClanContributionMade': {
        const { clanId, amount } = event.data;
        logEntry('user_credit_events', actorId);
        logEntry('clan_credit_events', clanId);
        this.#w.contribution.add.run(clanId, actorId, amount);
        const topContributors = this.#w.contribution.top
          .all(clanId, topContributorsMax)
          .map((r) => ({ userId: r.user_id, total: r.total }));
        const contributors = this.#w.contribution.count.get(clanId)?.n ?? 0;
        this.#updateClan(clanId, (doc) => ({
          ...doc,
          contributionsTotal: doc.contributionsTotal + amount,
          topContributors,
          contributors,
        }));
        return;
      }
    }
  }

  #update<T extends object>(
    collection: Collection,
    id: string,
    empty: (id: string) => T,
    change: (doc: T) => T,
    scoreOf: (doc: T) => number,
  ): void {
    const key = `${collection}\n${id}`;
    let current = this.#touched?.get(key)?.doc as T | undefined;
    if (current === undefined) {
      const row = this.#w.get[collection].get(id);
      current = row === undefined ? empty(id) : (JSON.parse(row.doc) as T);
    }
    const changed = change(current);
    const score = scoreOf(changed);
    const doc = { ...changed, [collections[collection].scoreField]: score };
    if (this.#touched !== undefined) this.#touched.set(key, { collection, id, doc, score });
    else this.#w.put[collection].run(id, score, JSON.stringify(doc));
  }

  #updateUser(userId: string, change: (doc: StoredUser) => StoredUser): void {
    this.#update('user_visibility', userId, emptyUser, change, scores.visibility);
  }

  #updateGig(gigId: string, change: (doc: StoredGig) => StoredGig): void {
    this.#update('gig_ranking', gigId, emptyGig, change, scores.rank);
  }

  #updateClan(clanId: string, change: (doc: StoredClan) => StoredClan): void {
    this.#update('clan_reputation', clanId, emptyClan, change, scores.reputation);
  }

  /** The newest active boosts of a target, from the active_boosts view. */
  activeBoostsOf(targetType: 'profile' | 'gig' | 'clan', targetId: string): ActiveBoostRef[] {
    const rows = this.models.db
      .prepare(
        'SELECT boost_id, booster_id, amount, expires_at FROM active_boosts WHERE target_type = ? AND target_id = ? ORDER BY position DESC LIMIT ?',
      )
      .all(targetType, targetId, activeBoostsListedMax) as {
      boost_id: string;
      booster_id: string;
      amount: number;
      expires_at: string;
    }[];
    return rows
      .reverse()
      .map((r) => ({ boostId: r.boost_id, boosterId: r.booster_id, amount: r.amount, expiresAt: r.expires_at }));
  }

  /** A user's visibility; a user nobody boosted has the empty document (score 0). */
  userVisibility(userId: string): UserVisibility {
    const row = this.#read.user_visibility.get(userId);
    const stored = row === undefined ? emptyUser(userId) : (JSON.parse(row.doc) as StoredUser);
    return { ...stored, activeBoosts: this.activeBoostsOf('profile', userId) };
  }

  gig(gigId: string): GigRanking | undefined {
    const row = this.#read.gig_ranking.get(gigId);
    return row === undefined ? undefined : this.#withGigBoosts(JSON.parse(row.doc) as StoredGig);
  }

  /** A clan's reputation; a clan nothing happened to has the empty document (reputation 0). */
  clanReputation(clanId: string): ClanReputation {
    const row = this.#read.clan_reputation.get(clanId);
    return this.#withClanBoosts(row === undefined ? emptyClan(clanId) : (JSON.parse(row.doc) as StoredClan));
  }

  #withGigBoosts = (doc: StoredGig): GigRanking => ({ ...doc, activeBoosts: this.activeBoostsOf('gig', doc.gigId) });
  #withClanBoosts = (doc: StoredClan): ClanReputation => ({ ...doc, activeBoosts: this.activeBoostsOf('clan', doc.clanId) });

  /**
   * A page of a ranking, best first; ties broken by id ascending, so the order is total and a cursor
   * (the last row's score and id) continues exactly where the page ended.
   */
  gigRanking(limit: number, after?: { score: number; id: string }): GigRanking[] {
    return this.#page<StoredGig>('gig_ranking', limit, after).map(this.#withGigBoosts);
  }

  clanRanking(limit: number, after?: { score: number; id: string }): ClanReputation[] {
    return this.#page<StoredClan>('clan_reputation', limit, after).map(this.#withClanBoosts);
  }

  #page<T>(collection: 'gig_ranking' | 'clan_reputation', limit: number, after?: { score: number; id: string }): T[] {
    const { key, score } = collections[collection];
    const rows = (
      after === undefined
        ? this.models.db.prepare(`SELECT doc FROM ${collection} ORDER BY ${score} DESC, ${key} ASC LIMIT ?`).all(limit)
        : this.models.db
            .prepare(
              `SELECT doc FROM ${collection} WHERE (${score} < ?) OR (${score} = ? AND ${key} > ?) ORDER BY ${score} DESC, ${key} ASC LIMIT ?`,
            )
            .all(after.score, after.score, after.id, limit)
    ) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  /** The user's boost events (activations and expiries), newest first. */
  userBoostEvents(userId: string, limit: number): unknown[] {
    return (
      this.models.db
        .prepare('SELECT doc FROM user_boost_events WHERE subject_id = ? ORDER BY position DESC LIMIT ?')
        .all(userId, limit) as { doc: string }[]
    ).map((r) => JSON.parse(r.doc) as unknown);
  }
}
