import { type BoostTargetType, type SpendTargetType } from '../../../ledger/src/index.js';
import type { CollectionSpec } from '../readModels/readModelStore.js';

/**
 * The service read models' collections, with the seed's names:
 *
 * - user service: `user_visibility`, `user_boost_events`, `user_credit_events`
 * - gig service: `gig_ranking`, `gig_boost_events`, `gig_credit_events`
 * - clan service: `clan_reputation`, `clan_contributors`, `clan_boost_events`, `clan_credit_events`
 * - `active_boosts` (ledger), which the three documents list their active boosts from
 */

/** The collections of folded documents, one document per user, gig, clan and clan contributor. */
export type DocumentCollection = 'user_visibility' | 'gig_ranking' | 'clan_reputation' | 'clan_contributors';
export type RankedCollection = 'gig_ranking' | 'clan_reputation';
export type EventLog =
  | 'user_boost_events'
  | 'user_credit_events'
  | 'gig_boost_events'
  | 'gig_credit_events'
  | 'clan_boost_events'
  | 'clan_credit_events';

/** Where a boost of each target type lands: the target's documents and the boost log it is filed in. */
export const boostTargets = {
  profile: { documents: 'user_visibility', boostLog: 'user_boost_events' },
  gig: { documents: 'gig_ranking', boostLog: 'gig_boost_events' },
  clan: { documents: 'clan_reputation', boostLog: 'clan_boost_events' },
} as const satisfies Record<BoostTargetType, { documents: DocumentCollection; boostLog: EventLog }>;

/** Where credits spent on a target land besides the spender's own log (spends on profiles and others: nowhere). */
export const spendTargets: Partial<Record<SpendTargetType, { documents: DocumentCollection; creditLog: EventLog }>> = {
  gig: { documents: 'gig_ranking', creditLog: 'gig_credit_events' },
  clan: { documents: 'clan_reputation', creditLog: 'clan_credit_events' },
};

/** The field each ranking is ordered by. */
export const scoreField = {
  user_visibility: 'visibilityScore',
  gig_ranking: 'rankScore',
  clan_reputation: 'reputation',
} as const;

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
