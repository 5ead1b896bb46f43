import { type AccountEvent, type BoostTargetType, type RecordedEvent } from '../../../ledger/src/index.js';
import { boostTargets, spendTargets, type DocumentCollection, type EventLog } from './collections.js';
import type { ServiceEvent } from './documents.js';

/**
 * What one event changes in the service read models besides the folded documents — which documents it
 * touches, which event logs it is filed in, which active boost it adds or removes — as plain data.
 * Pure: the projection turns these into store writes.
 */

/** The id of the one document per collection an event touches (at most one each). */
export type Touched = { -readonly [C in DocumentCollection]?: string };

export const documentsTouchedBy = ({ userId, event }: ServiceEvent): Touched => {
  switch (event.type) {
    case 'BoostActivated':
    case 'BoostExpired':
      return { [boostTargets[event.data.targetType].documents]: event.data.targetId };
    case 'CreditsSpent': {
      const target = spendTargets[event.data.targetType];
      return target === undefined ? {} : { [target.documents]: event.data.targetId };
    }
    case 'GigPaymentSent':
      return { gig_ranking: event.data.gigId };
    case 'ClanContributionMade':
      return { clan_reputation: event.data.clanId, clan_contributors: contributorId(event.data.clanId, userId) };
    case 'CreditsPurchased':
    case 'CreditsEarned':
    case 'GigPaymentReceived':
      return {}; // only logged: no document
  }
};

/** The event logs an event is filed in, each under its subject (the user, gig or clan the log is about). */
export const logsOf = ({ userId, event }: ServiceEvent): { readonly log: EventLog; readonly subjectId: string }[] => {
  switch (event.type) {
    case 'BoostActivated':
    case 'BoostExpired':
      return [{ log: boostTargets[event.data.targetType].boostLog, subjectId: event.data.targetId }];
    case 'CreditsPurchased':
    case 'CreditsEarned':
    case 'GigPaymentReceived':
      return [{ log: 'user_credit_events', subjectId: userId }];
    case 'CreditsSpent': {
      const target = spendTargets[event.data.targetType];
      return target === undefined
        ? [{ log: 'user_credit_events', subjectId: userId }]
        : [
            { log: 'user_credit_events', subjectId: userId },
            { log: target.creditLog, subjectId: event.data.targetId },
          ];
    }
    case 'GigPaymentSent':
      return [
        { log: 'user_credit_events', subjectId: userId },
        { log: 'gig_credit_events', subjectId: event.data.gigId },
      ];
    case 'ClanContributionMade':
      return [
        { log: 'user_credit_events', subjectId: userId },
        { log: 'clan_credit_events', subjectId: event.data.clanId },
      ];
  }
};

/** An event-log entry's id: its log position, zero-padded so that string order is position order. */
export const logEntryId = (position: number): string => position.toString().padStart(16, '0');

/**
 * An event's entry in one log: the event's envelope with its data nested (as in the history route),
 * one document shape for every event type, which also keeps folding and serialising these, the bulk
 * of a rebuild, cheap. `userId` is the account owner.
 */
export const logEntry = (
  recorded: RecordedEvent,
  { userId, position, event }: ServiceEvent,
  log: EventLog,
  subjectId: string,
) => ({
  eventId: recorded.id,
  type: event.type,
  userId,
  subjectId,
  position,
  occurredAt: recorded.metadata.occurredAt ?? null,
  // Only a user's own credit log shows their balance; every other log (boosts received, a gig's or a
  // clan's events), which others may read, leaves it out — a self-boost included.
  data: log === 'user_credit_events' ? event.data : withoutBalance(event.data),
});

/** An active boost (`active_boosts`), as the documents list it. */
export type ActiveBoost = {
  readonly boostId: string;
  readonly targetType: BoostTargetType;
  readonly targetId: string;
  readonly boosterId: string;
  readonly amount: number;
  readonly expiresAt: string;
  readonly position: number;
};

/** The active boost an event starts (`doc`) or ends (no `doc`), if any. */
export const activeBoostChangeOf = ({
  userId,
  position,
  event,
}: ServiceEvent): { readonly id: string; readonly doc?: ActiveBoost } | undefined => {
  if (event.type === 'BoostActivated') {
    const { boostId, targetType, targetId, amount, expiresAt } = event.data;
    return {
      id: activeBoostId(userId, boostId),
      doc: { boostId, targetType, targetId, boosterId: userId, amount, expiresAt, position },
    };
  }
  if (event.type === 'BoostExpired') return { id: activeBoostId(userId, event.data.boostId) };
  return undefined;
};

/** Boost ids are chosen per account: the booster's id and the boost id name an active boost. */
export const activeBoostId = (boosterId: string, boostId: string): string => JSON.stringify([boosterId, boostId]);

export const contributorId = (clanId: string, userId: string): string => JSON.stringify([clanId, userId]);

export const withoutBalance = (data: AccountEvent['data']): Omit<AccountEvent['data'], 'balanceAfter'> => {
  if (!('balanceAfter' in data)) return data;
  const { balanceAfter: _private, ...shared } = data;
  return shared;
};
