import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { msPerHour } from '../shared/clock.js';
import type { AccountCommand } from './commands.js';
import {
  boostTargetTypes,
  clanAccount,
  isValidId,
  isValidText,
  platformAccounts,
  spendTargetTypes,
  type AccountEvent,
} from './events.js';
import { accountLimits } from './limits.js';
import { addCredits } from './postings.js';
import { reject, type Rejection } from './rejections.js';
import type { AccountState } from './state.js';

export type Decision =
  { readonly ok: true; readonly events: readonly AccountEvent[] } | { readonly ok: false; readonly rejection: Rejection };

const accept = (...events: AccountEvent[]): Decision => ({ ok: true, events });
const refuse = (rejection: Rejection): Decision => ({ ok: false, rejection });

/**
 * Pure: what happens when `command` meets `state`. No clock, no ids, no I/O: everything arrives
 * with the command. Checks run in the precedence order of `rejectionCodes`, and each command checks
 * only the codes that apply to it.
 */
export const decide = (command: AccountCommand, state: AccountState): Decision => {
  const problem = firstProblem(command, state);
  if (problem !== undefined) return refuse(problem);

  switch (command.type) {
    case 'PurchaseCredits':
      return accept({
        type: 'CreditsPurchased',
        data: {
          amount: command.amount,
          paymentRef: command.paymentRef,
          counterparty: platformAccounts.sales,
          balanceAfter: addCredits(state.balance, command.amount),
        },
      });
    case 'EarnCredits':
      return accept({
        type: 'CreditsEarned',
        data: {
          amount: command.amount,
          source: command.source,
          refId: command.refId,
          counterparty: platformAccounts.earnings,
          balanceAfter: addCredits(state.balance, command.amount),
        },
      });
    case 'SpendCredits':
      return accept({
        type: 'CreditsSpent',
        data: {
          amount: command.amount,
          targetType: command.targetType,
          targetId: command.targetId,
          reason: command.reason,
          counterparty: platformAccounts.spending,
          balanceAfter: addCredits(state.balance, -command.amount),
        },
      });
    case 'ActivateBoost': {
      const activatedAt = command.now.toUTC();
      return accept({
        type: 'BoostActivated',
        data: {
          boostId: command.boostId,
          targetType: command.targetType,
          targetId: command.targetId,
          amount: command.amount,
          durationHours: command.durationHours,
          activatedAt: iso(activatedAt),
          expiresAt: iso(boostExpiresAt(activatedAt, command.durationHours)),
          counterparty: platformAccounts.boosts,
          balanceAfter: addCredits(state.balance, -command.amount),
        },
      });
    }
    case 'ExpireBoost': {
      const boost = state.activeBoosts.get(command.boostId);
      assert.ok(boost !== undefined, 'checked by firstProblem');
      return accept({
        type: 'BoostExpired',
        data: {
          boostId: boost.boostId,
          targetType: boost.targetType,
          targetId: boost.targetId,
          amount: boost.amount,
          dueAt: boost.expiresAt,
          expiredAt: iso(command.now.toUTC()),
        },
      });
    }
    case 'PayForGig':
      return accept({
        type: 'GigPaymentSent',
        data: {
          transferId: command.transferId,
          gigId: command.gigId,
          payeeId: command.payeeId,
          amount: command.amount,
          counterparty: platformAccounts.gigPaymentsInTransit,
          balanceAfter: addCredits(state.balance, -command.amount),
        },
      });
    case 'ReceiveGigPayment':
      return accept({
        type: 'GigPaymentReceived',
        data: {
          transferId: command.transferId,
          gigId: command.gigId,
          payerId: command.payerId,
          amount: command.amount,
          counterparty: platformAccounts.gigPaymentsInTransit,
          balanceAfter: addCredits(state.balance, command.amount),
        },
      });
    case 'ContributeToClan':
      return accept({
        type: 'ClanContributionMade',
        data: {
          clanId: command.clanId,
          amount: command.amount,
          counterparty: clanAccount(command.clanId),
          balanceAfter: addCredits(state.balance, -command.amount),
        },
      });
  }
};

/**
 * expiresAt = activatedAt + durationHours, to the millisecond, in UTC. Added in milliseconds rather
 * than with `plus` (luxon's calendar arithmetic costs ~15 times more, on every boost's path); an
 * instant plus a fixed number of milliseconds is the same in either.
 */
export const boostExpiresAt = (activatedAt: DateTime, durationHours: number): DateTime =>
  DateTime.fromMillis(activatedAt.toMillis() + Math.round(durationHours * msPerHour), { zone: 'utc' });

const iso = (instant: DateTime): string => {
  const text = instant.toUTC().toISO({ suppressMilliseconds: false, includeOffset: true });
  assert.ok(text !== null, 'a valid DateTime always formats');
  return text;
};

/** The first rejection that applies, walking the codes in precedence order. */
const firstProblem = (command: AccountCommand, state: AccountState): Rejection | undefined => {
  assert.ok(command.now.isValid, 'the clock always provides a valid DateTime');
  return (
    checkIds(command) ??
    checkText(command) ??
    (command.type === 'ExpireBoost' ? undefined : checkAmount(command.amount)) ??
    checkTargetType(command) ??
    checkDuration(command) ??
    checkSelfPayment(command, state) ??
    checkBoosts(command, state) ??
    checkBalance(command, state)
  );
};

const idsOf = (command: AccountCommand): Record<string, unknown> => {
  switch (command.type) {
    case 'PurchaseCredits':
      return { paymentRef: command.paymentRef };
    case 'SpendCredits':
      return { targetId: command.targetId };
    case 'EarnCredits':
      return { source: command.source, refId: command.refId };
    case 'ActivateBoost':
      return { boostId: command.boostId, targetId: command.targetId };
    case 'ExpireBoost':
      return { boostId: command.boostId };
    case 'PayForGig':
      return { transferId: command.transferId, gigId: command.gigId, payeeId: command.payeeId };
    case 'ReceiveGigPayment':
      return { transferId: command.transferId, gigId: command.gigId, payerId: command.payerId };
    case 'ContributeToClan':
      return { clanId: command.clanId };
  }
};

const checkIds = (command: AccountCommand): Rejection | undefined => {
  for (const [field, value] of Object.entries(idsOf(command))) {
    if (!isValidId(value)) {
      return reject('INVALID_ID', `${field} must be 1 to ${accountLimits.idLengthMax} printable characters`, { field });
    }
  }
  return undefined;
};

const checkText = (command: AccountCommand): Rejection | undefined =>
  command.type === 'SpendCredits' && !isValidText(command.reason)
    ? reject('INVALID_TEXT', `reason must be at most ${accountLimits.textLengthMax} characters without control characters`, {
        field: 'reason',
      })
    : undefined;

/** Every command but ExpireBoost carries an amount; a missing one (an unchecked caller) is invalid too. */
const checkAmount = (amount: unknown): Rejection | undefined => {
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
    return reject('INVALID_AMOUNT', 'amount must be a whole number of credits greater than zero');
  }
  if (amount > accountLimits.amountPerCommandMax) {
    return reject('AMOUNT_OVER_LIMIT', `amount must be at most ${accountLimits.amountPerCommandMax} credits`, {
      limit: accountLimits.amountPerCommandMax,
    });
  }
  return undefined;
};

const checkTargetType = (command: AccountCommand): Rejection | undefined => {
  if (command.type === 'SpendCredits' && !(spendTargetTypes as readonly string[]).includes(command.targetType)) {
    return reject('INVALID_TARGET_TYPE', `targetType must be one of ${spendTargetTypes.join(', ')}`);
  }
  if (command.type === 'ActivateBoost' && !(boostTargetTypes as readonly string[]).includes(command.targetType)) {
    return reject('INVALID_TARGET_TYPE', `a boost targets one of ${boostTargetTypes.join(', ')}`);
  }
  return undefined;
};

const checkDuration = (command: AccountCommand): Rejection | undefined => {
  if (command.type !== 'ActivateBoost') return undefined;
  const hours = command.durationHours;
  if (typeof hours !== 'number' || !Number.isFinite(hours) || Math.round(hours * msPerHour) < 1) {
    return reject('INVALID_DURATION', 'duration must be a number of hours greater than zero (at least one millisecond)');
  }
  if (hours > accountLimits.boostDurationHoursMax) {
    return reject('DURATION_OVER_LIMIT', `duration must be at most ${accountLimits.boostDurationHoursMax} hours`, {
      limit: accountLimits.boostDurationHoursMax,
    });
  }
  return undefined;
};

const checkSelfPayment = (command: AccountCommand, state: AccountState): Rejection | undefined =>
  (command.type === 'PayForGig' && command.payeeId === state.userId) ||
  (command.type === 'ReceiveGigPayment' && command.payerId === state.userId)
    ? reject('SELF_PAYMENT', 'a gig payment needs two different accounts')
    : undefined;

const checkBoosts = (command: AccountCommand, state: AccountState): Rejection | undefined => {
  if (command.type === 'ActivateBoost') {
    if (state.activeBoosts.has(command.boostId)) {
      return reject('BOOST_ALREADY_ACTIVE', `boost ${command.boostId} is already active`, { boostId: command.boostId });
    }
    if (state.activeBoosts.size >= accountLimits.activeBoostsPerAccountMax) {
      return reject('TOO_MANY_ACTIVE_BOOSTS', `at most ${accountLimits.activeBoostsPerAccountMax} boosts may be active at once`, {
        limit: accountLimits.activeBoostsPerAccountMax,
      });
    }
  }
  if (command.type === 'ExpireBoost') {
    const boost = state.activeBoosts.get(command.boostId);
    if (boost === undefined) {
      return reject('BOOST_NOT_FOUND', `no active boost ${command.boostId} on this account`, { boostId: command.boostId });
    }
    if (command.now.toMillis() < boost.expiresAtMs) {
      return reject('BOOST_NOT_DUE', `boost ${command.boostId} expires at ${boost.expiresAt}`, {
        boostId: command.boostId,
        expiresAt: boost.expiresAt,
      });
    }
  }
  return undefined;
};

const checkBalance = (command: AccountCommand, state: AccountState): Rejection | undefined => {
  switch (command.type) {
    case 'PurchaseCredits':
    case 'EarnCredits':
      return state.balance + command.amount > accountLimits.balanceMax
        ? reject('BALANCE_OVER_LIMIT', `the balance may not exceed ${accountLimits.balanceMax} credits`, {
            balance: state.balance,
            limit: accountLimits.balanceMax,
          })
        : undefined;
    case 'ReceiveGigPayment':
      return state.balance + command.amount > accountLimits.balanceHardMax
        ? reject('BALANCE_OVER_LIMIT', `the balance may not exceed ${accountLimits.balanceHardMax} credits`, {
            balance: state.balance,
            limit: accountLimits.balanceHardMax,
          })
        : undefined;
    case 'SpendCredits':
    case 'ActivateBoost':
    case 'PayForGig':
    case 'ContributeToClan':
      return command.amount > state.balance
        ? reject('INSUFFICIENT_CREDITS', `balance ${state.balance} is less than the ${command.amount} credits required`, {
            balance: state.balance,
            required: command.amount,
          })
        : undefined;
    case 'ExpireBoost':
      return undefined;
  }
};
