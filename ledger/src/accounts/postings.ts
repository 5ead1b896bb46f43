import assert from 'node:assert/strict';
import { userAccount, type AccountEvent } from './events.js';

/** One leg of a double-entry movement: a signed amount on an account. */
export interface Posting {
  readonly account: string;
  readonly amount: number;
}

/**
 * The double-entry legs of an event on `userId`'s stream. Every movement has exactly two legs that
 * sum to zero: the user's account and the event's counterparty. Events that move nothing
 * (BoostExpired) have none. The derived platform and clan accounts are never written to; their
 * balances are the sum of these legs over the user streams.
 */
export const postingsOf = (userId: string, event: AccountEvent): readonly Posting[] => {
  switch (event.type) {
    case 'CreditsPurchased':
    case 'CreditsEarned':
    case 'GigPaymentReceived':
      return legs(userId, event.data.amount, event.data.counterparty);
    case 'CreditsSpent':
    case 'BoostActivated':
    case 'GigPaymentSent':
    case 'ClanContributionMade':
      return legs(userId, -event.data.amount, event.data.counterparty);
    case 'BoostExpired':
      return [];
  }
};

const legs = (userId: string, userDelta: number, counterparty: string): readonly Posting[] => {
  assert.ok(Number.isSafeInteger(userDelta) && userDelta !== 0, 'a posting moves a non-zero whole amount');
  const user = userAccount(userId);
  assert.notEqual(counterparty, user, 'an account is never its own counterparty');
  return [
    { account: user, amount: userDelta },
    { account: counterparty, amount: -userDelta },
  ];
};

/** Adds two balances, asserting the result is still an exact integer. */
export const addCredits = (a: number, b: number): number => {
  const sum = a + b;
  assert.ok(Number.isSafeInteger(sum), `credit arithmetic left the safe integer range: ${a} + ${b}`);
  return sum;
};
