import type { DateTime } from 'luxon';
import type { SpendTargetType, BoostTargetType } from './events.js';

/**
 * Commands: imperative requests against one account. They carry everything `decide` needs from the
 * outside world: the time (`now`, a luxon DateTime from the injected clock) and any generated ids
 * (`boostId`, `transferId`). Fields typed `unknown`-ish at the edge are validated by `decide` itself,
 * so a command that reaches the domain unchecked is still rejected with a code, never half-applied.
 */
export type AccountCommand =
  PurchaseCredits | SpendCredits | EarnCredits | ActivateBoost | ExpireBoost | PayForGig | ReceiveGigPayment | ContributeToClan;

interface CommandBase {
  /** The instant the command is decided at, from the injected clock. */
  readonly now: DateTime;
}

export interface PurchaseCredits extends CommandBase {
  readonly type: 'PurchaseCredits';
  readonly amount: number;
  readonly paymentRef: string;
}

export interface SpendCredits extends CommandBase {
  readonly type: 'SpendCredits';
  readonly amount: number;
  readonly targetType: SpendTargetType;
  readonly targetId: string;
  readonly reason: string;
}

export interface EarnCredits extends CommandBase {
  readonly type: 'EarnCredits';
  readonly amount: number;
  readonly source: string;
  readonly refId: string;
}

export interface ActivateBoost extends CommandBase {
  readonly type: 'ActivateBoost';
  readonly boostId: string;
  readonly targetType: BoostTargetType;
  readonly targetId: string;
  readonly amount: number;
  /** Hours, fractions allowed, > 0 and at most `boostDurationHoursMax`. */
  readonly durationHours: number;
}

export interface ExpireBoost extends CommandBase {
  readonly type: 'ExpireBoost';
  readonly boostId: string;
}

export interface PayForGig extends CommandBase {
  readonly type: 'PayForGig';
  readonly transferId: string;
  readonly gigId: string;
  readonly payeeId: string;
  readonly amount: number;
}

/** Settles a GigPaymentSent on the payee's account; sent by the settlement reactor. */
export interface ReceiveGigPayment extends CommandBase {
  readonly type: 'ReceiveGigPayment';
  readonly transferId: string;
  readonly gigId: string;
  readonly payerId: string;
  readonly amount: number;
}

export interface ContributeToClan extends CommandBase {
  readonly type: 'ContributeToClan';
  readonly clanId: string;
  readonly amount: number;
}

export type AccountCommandType = AccountCommand['type'];
