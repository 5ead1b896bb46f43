import assert from 'node:assert/strict';
import { addCredits } from './postings.js';
import type { AccountEvent, BoostTargetType } from './events.js';

export interface ActiveBoost {
  readonly boostId: string;
  readonly targetType: BoostTargetType;
  readonly targetId: string;
  readonly amount: number;
  readonly expiresAt: string;
  /** expiresAt as epoch milliseconds, for cheap comparisons. */
  readonly expiresAtMs: number;
}

/**
 * The folded state of one account: exactly what `decide` needs, nothing more, so it stays small
 * and bounded (active boosts are capped by `activeBoostsPerAccountMax`).
 */
export interface AccountState {
  readonly userId: string;
  readonly balance: number;
  readonly activeBoosts: ReadonlyMap<string, ActiveBoost>;
}

export const initialState = (userId: string): AccountState => ({ userId, balance: 0, activeBoosts: new Map() });

/** Pure: the state after one more event. Asserts the event's own `balanceAfter` agrees with the fold. */
export const evolve = (state: AccountState, event: AccountEvent): AccountState => {
  switch (event.type) {
    case 'CreditsPurchased':
    case 'CreditsEarned':
    case 'GigPaymentReceived':
      return withBalance(state, addCredits(state.balance, event.data.amount), event.data.balanceAfter);
    case 'CreditsSpent':
    case 'GigPaymentSent':
    case 'ClanContributionMade':
      return withBalance(state, addCredits(state.balance, -event.data.amount), event.data.balanceAfter);
    case 'BoostActivated': {
      const { boostId, targetType, targetId, amount, expiresAt } = event.data;
      assert.ok(!state.activeBoosts.has(boostId), `boost ${boostId} activated twice`);
      const activeBoosts = new Map(state.activeBoosts);
      activeBoosts.set(boostId, {
        boostId,
        targetType,
        targetId,
        amount,
        expiresAt,
        expiresAtMs: instantMs(expiresAt),
      });
      return { ...withBalance(state, addCredits(state.balance, -amount), event.data.balanceAfter), activeBoosts };
    }
    case 'BoostExpired': {
      assert.ok(state.activeBoosts.has(event.data.boostId), `boost ${event.data.boostId} expired but not active`);
      const activeBoosts = new Map(state.activeBoosts);
      activeBoosts.delete(event.data.boostId);
      return { ...state, activeBoosts };
    }
  }
};

const withBalance = (state: AccountState, balance: number, recordedBalanceAfter: number): AccountState => {
  assert.equal(balance, recordedBalanceAfter, `account ${state.userId}: folded balance disagrees with the event's balanceAfter`);
  assert.ok(balance >= 0, `account ${state.userId}: balance below zero`);
  return { ...state, balance };
};

export const fold = (state: AccountState, events: Iterable<AccountEvent>): AccountState => {
  let current = state;
  for (const event of events) current = evolve(current, event);
  return current;
};

/**
 * Epoch milliseconds of a stored ISO 8601 UTC instant. Parsing, not reading the clock, so it is fine
 * in the domain; Date.parse is an order of magnitude faster than luxon's parser on this hot path.
 */
const instantMs = (iso: string): number => {
  // eslint-disable-next-line no-restricted-globals -- parses a stored instant; never reads the clock
  const ms = Date.parse(iso);
  assert.ok(Number.isFinite(ms), `not an instant: ${iso}`);
  return ms;
};
