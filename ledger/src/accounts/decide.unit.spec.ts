import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { givenAccount } from '../testing/deciderSpecification.js';
import type { AccountCommand } from './commands.js';
import { decide } from './decide.js';
import { platformAccounts, type AccountEvent } from './events.js';
import { accountLimits } from './limits.js';
import { rejectionCodes } from './rejections.js';
import { fold, initialState } from './state.js';

const now = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
const at = (iso: string): DateTime => DateTime.fromISO(iso, { zone: 'utc' });

const purchased = (amount: number, balanceAfter = amount): AccountEvent => ({
  type: 'CreditsPurchased',
  data: { amount, paymentRef: 'pay-1', counterparty: platformAccounts.sales, balanceAfter },
});
const boostActivated = (boostId: string, balanceAfter: number, expiresAt = '2026-06-30T13:30:00.000Z'): AccountEvent => ({
  type: 'BoostActivated',
  data: {
    boostId,
    targetType: 'profile',
    targetId: 'user123',
    amount: 100,
    durationHours: 24,
    activatedAt: '2026-06-29T13:30:00.000Z',
    expiresAt,
    counterparty: platformAccounts.boosts,
    balanceAfter,
  },
});

const activate = (overrides: Partial<Extract<AccountCommand, { type: 'ActivateBoost' }>> = {}): AccountCommand => ({
  type: 'ActivateBoost',
  boostId: 'boost_abc123',
  targetType: 'profile',
  targetId: 'user123',
  amount: 100,
  durationHours: 24,
  now,
  ...overrides,
});

describe('decide: accepted commands', () => {
  it('PurchaseCredits → CreditsPurchased against platform:sales', () => {
    const state = givenAccount('booster456')
      .when({ type: 'PurchaseCredits', amount: 500, paymentRef: 'stripe_pi_1', now })
      .then({
        type: 'CreditsPurchased',
        data: { amount: 500, paymentRef: 'stripe_pi_1', counterparty: 'platform:sales', balanceAfter: 500 },
      });
    expect(state.balance).toBe(500);
  });

  it('SpendCredits → CreditsSpent with its target', () => {
    givenAccount('u1', purchased(50))
      .when({ type: 'SpendCredits', amount: 50, targetType: 'gig', targetId: 'gig789', reason: 'unlock contact', now })
      .then({
        type: 'CreditsSpent',
        data: {
          amount: 50,
          targetType: 'gig',
          targetId: 'gig789',
          reason: 'unlock contact',
          counterparty: 'platform:spending',
          balanceAfter: 0,
        },
      });
  });

  it('EarnCredits → CreditsEarned against platform:earnings', () => {
    givenAccount('u1', purchased(1))
      .when({ type: 'EarnCredits', amount: 25, source: 'referral', refId: 'ref-9', now })
      .then({
        type: 'CreditsEarned',
        data: { amount: 25, source: 'referral', refId: 'ref-9', counterparty: 'platform:earnings', balanceAfter: 26 },
      });
  });

  it('ActivateBoost → BoostActivated costing its amount and expiring duration hours later', () => {
    const state = givenAccount('booster456', purchased(300)).when(activate()).then(boostActivated('boost_abc123', 200));
    expect(state.activeBoosts.get('boost_abc123')?.expiresAt).toBe('2026-06-30T13:30:00.000Z');
  });

  it.each([
    [1.5, '2026-06-29T15:00:00.000Z'],
    [0.25, '2026-06-29T13:45:00.000Z'],
    [1 / 3, '2026-06-29T13:50:00.000Z'],
    [1 / 3600, '2026-06-29T13:30:01.000Z'],
    [8760, '2027-06-29T13:30:00.000Z'],
  ])('computes expiresAt for a fractional duration of %s hours', (durationHours, expiresAt) => {
    const decision = decide(activate({ durationHours }), fold(initialState('u'), [purchased(100)]));
    expect(decision.ok && decision.events[0]?.type === 'BoostActivated' && decision.events[0].data.expiresAt).toBe(expiresAt);
  });

  it('keeps expiresAt in UTC whatever zone the clock reports in', () => {
    const decision = decide(activate({ now: now.setZone('Asia/Kolkata') }), fold(initialState('u'), [purchased(100)]));
    expect(decision.ok && decision.events[0]?.type === 'BoostActivated' && decision.events[0].data).toMatchObject({
      activatedAt: '2026-06-29T13:30:00.000Z',
      expiresAt: '2026-06-30T13:30:00.000Z',
    });
  });

  it('ExpireBoost at exactly the due time → BoostExpired recording due and actual time', () => {
    const state = givenAccount('u1', purchased(100), boostActivated('b1', 0))
      .when({ type: 'ExpireBoost', boostId: 'b1', now: at('2026-06-30T13:30:00.000Z') })
      .then({
        type: 'BoostExpired',
        data: {
          boostId: 'b1',
          targetType: 'profile',
          targetId: 'user123',
          amount: 100,
          dueAt: '2026-06-30T13:30:00.000Z',
          expiredAt: '2026-06-30T13:30:00.000Z',
        },
      });
    expect(state.activeBoosts.size).toBe(0);
    expect(state.balance).toBe(0);
  });

  it('ExpireBoost late records the lateness: dueAt stays the due time', () => {
    givenAccount('u1', purchased(100), boostActivated('b1', 0))
      .when({ type: 'ExpireBoost', boostId: 'b1', now: at('2026-07-01T00:00:00.000Z') })
      .then({
        type: 'BoostExpired',
        data: {
          boostId: 'b1',
          targetType: 'profile',
          targetId: 'user123',
          amount: 100,
          dueAt: '2026-06-30T13:30:00.000Z',
          expiredAt: '2026-07-01T00:00:00.000Z',
        },
      });
  });

  it('PayForGig → GigPaymentSent into transit, ReceiveGigPayment → GigPaymentReceived out of it', () => {
    givenAccount('payer', purchased(200))
      .when({ type: 'PayForGig', transferId: 't1', gigId: 'gig789', payeeId: 'payee', amount: 200, now })
      .then({
        type: 'GigPaymentSent',
        data: {
          transferId: 't1',
          gigId: 'gig789',
          payeeId: 'payee',
          amount: 200,
          counterparty: 'platform:gig-payments-in-transit',
          balanceAfter: 0,
        },
      });
    givenAccount('payee')
      .when({ type: 'ReceiveGigPayment', transferId: 't1', gigId: 'gig789', payerId: 'payer', amount: 200, now })
      .then({
        type: 'GigPaymentReceived',
        data: {
          transferId: 't1',
          gigId: 'gig789',
          payerId: 'payer',
          amount: 200,
          counterparty: 'platform:gig-payments-in-transit',
          balanceAfter: 200,
        },
      });
  });

  it('ContributeToClan → ClanContributionMade against clan:{id}', () => {
    givenAccount('u1', purchased(300))
      .when({ type: 'ContributeToClan', clanId: 'clan456', amount: 300, now })
      .then({
        type: 'ClanContributionMade',
        data: { clanId: 'clan456', amount: 300, counterparty: 'clan:clan456', balanceAfter: 0 },
      });
  });

  it('accepts amounts exactly at the limits', () => {
    givenAccount('u1')
      .when({ type: 'PurchaseCredits', amount: accountLimits.amountPerCommandMax, paymentRef: 'p', now })
      .then({
        type: 'CreditsPurchased',
        data: {
          amount: accountLimits.amountPerCommandMax,
          paymentRef: 'p',
          counterparty: 'platform:sales',
          balanceAfter: accountLimits.amountPerCommandMax,
        },
      });
    const decision = decide(
      activate({ durationHours: accountLimits.boostDurationHoursMax }),
      fold(initialState('u'), [purchased(100)]),
    );
    expect(decision.ok).toBe(true);
  });
});

describe('decide: rejections, one per code, in precedence order', () => {
  const full = (): AccountEvent[] => {
    const events: AccountEvent[] = [purchased(1_000_000)];
    let balance = 1_000_000;
    for (let i = 0; i < accountLimits.activeBoostsPerAccountMax; i++) {
      balance -= 100;
      events.push(boostActivated(`b${i}`, balance));
    }
    return events;
  };

  // Each case breaks the code under test and every code after it, so only precedence picks the answer.
  const cases: Record<(typeof rejectionCodes)[number], (() => void) | 'handler'> = {
    IDEMPOTENCY_KEY_REUSED: 'handler',
    INVALID_ID: () =>
      givenAccount('u1')
        .when(activate({ boostId: '', targetId: 'x'.repeat(129), amount: -1, durationHours: 0 }))
        .thenRejects('INVALID_ID', { field: 'boostId' }),
    INVALID_TEXT: () =>
      givenAccount('u1')
        .when({ type: 'SpendCredits', amount: 0, targetType: 'bogus' as 'gig', targetId: 't', reason: 'r'.repeat(501), now })
        .thenRejects('INVALID_TEXT', { field: 'reason' }),
    INVALID_AMOUNT: () =>
      givenAccount('u1')
        .when(activate({ amount: 1.5, targetType: 'user' as 'profile', durationHours: -3 }))
        .thenRejects('INVALID_AMOUNT'),
    AMOUNT_OVER_LIMIT: () =>
      givenAccount('u1')
        .when(activate({ amount: accountLimits.amountPerCommandMax + 1, targetType: 'user' as 'profile' }))
        .thenRejects('AMOUNT_OVER_LIMIT', {
          limit: accountLimits.amountPerCommandMax,
        }),
    INVALID_TARGET_TYPE: () =>
      givenAccount('u1')
        .when(activate({ targetType: 'other' as 'profile', durationHours: Number.NaN }))
        .thenRejects('INVALID_TARGET_TYPE'),
    INVALID_DURATION: () =>
      givenAccount('u1')
        .when(activate({ durationHours: 0.0000001 }))
        .thenRejects('INVALID_DURATION'),
    DURATION_OVER_LIMIT: () =>
      givenAccount('u1')
        .when(activate({ durationHours: 8760.5 }))
        .thenRejects('DURATION_OVER_LIMIT', { limit: 8760 }),
    SELF_PAYMENT: () =>
      givenAccount('u1')
        .when({ type: 'PayForGig', transferId: 't', gigId: 'g', payeeId: 'u1', amount: 10, now })
        .thenRejects('SELF_PAYMENT'),
    BOOST_ALREADY_ACTIVE: () =>
      givenAccount('u1', purchased(100), boostActivated('b1', 0))
        .when(activate({ boostId: 'b1' }))
        .thenRejects('BOOST_ALREADY_ACTIVE'),
    BOOST_NOT_FOUND: () =>
      givenAccount('u1').when({ type: 'ExpireBoost', boostId: 'nope', now }).thenRejects('BOOST_NOT_FOUND', { boostId: 'nope' }),
    BOOST_NOT_DUE: () =>
      givenAccount('u1', purchased(100), boostActivated('b1', 0))
        .when({ type: 'ExpireBoost', boostId: 'b1', now: at('2026-06-30T13:29:59.999Z') })
        .thenRejects('BOOST_NOT_DUE', { expiresAt: '2026-06-30T13:30:00.000Z' }),
    TOO_MANY_ACTIVE_BOOSTS: () =>
      givenAccount('u1', ...full())
        .when(activate({ boostId: 'one-more', amount: 2_000_000 }))
        .thenRejects('TOO_MANY_ACTIVE_BOOSTS', { limit: accountLimits.activeBoostsPerAccountMax }),
    BALANCE_OVER_LIMIT: () =>
      givenAccount('u1', purchased(accountLimits.balanceMax))
        .when({ type: 'PurchaseCredits', amount: 1, paymentRef: 'p', now })
        .thenRejects('BALANCE_OVER_LIMIT', { balance: accountLimits.balanceMax }),
    INSUFFICIENT_CREDITS: () =>
      givenAccount('u1', purchased(99)).when(activate()).thenRejects('INSUFFICIENT_CREDITS', { balance: 99, required: 100 }),
  };

  it('has a case for every code', () => {
    expect(Object.keys(cases)).toEqual([...rejectionCodes]);
  });

  for (const code of rejectionCodes) {
    const run = cases[code];
    if (run === 'handler') continue; // checked by the command handler's tests
    it(code, run);
  }
});

describe('decide: the negative space', () => {
  it('never lets a debit take the balance below zero, for any command that spends', () => {
    const state = fold(initialState('u1'), [purchased(10)]);
    const spenders: AccountCommand[] = [
      { type: 'SpendCredits', amount: 11, targetType: 'other', targetId: 'x', reason: '', now },
      activate({ amount: 11 }),
      { type: 'PayForGig', transferId: 't', gigId: 'g', payeeId: 'p', amount: 11, now },
      { type: 'ContributeToClan', clanId: 'c', amount: 11, now },
    ];
    for (const command of spenders)
      expect(decide(command, state)).toMatchObject({ ok: false, rejection: { code: 'INSUFFICIENT_CREDITS' } });
  });

  it('expires a boost only once: the second ExpireBoost finds nothing to expire', () => {
    const history = [purchased(100), boostActivated('b1', 0)];
    const first = decide(
      { type: 'ExpireBoost', boostId: 'b1', now: at('2026-07-01T00:00:00.000Z') },
      fold(initialState('u1'), history),
    );
    expect(first.ok).toBe(true);
    const after = fold(initialState('u1'), [...history, ...(first.ok ? first.events : [])]);
    expect(decide({ type: 'ExpireBoost', boostId: 'b1', now: at('2026-07-02T00:00:00.000Z') }, after)).toMatchObject({
      ok: false,
      rejection: { code: 'BOOST_NOT_FOUND' },
    });
  });

  it('does not refund credits when a boost expires', () => {
    const state = givenAccount('u1', purchased(150), boostActivated('b1', 50))
      .when({ type: 'ExpireBoost', boostId: 'b1', now: at('2026-06-30T13:30:00.000Z') })
      .then({
        type: 'BoostExpired',
        data: {
          boostId: 'b1',
          targetType: 'profile',
          targetId: 'user123',
          amount: 100,
          dueAt: '2026-06-30T13:30:00.000Z',
          expiredAt: '2026-06-30T13:30:00.000Z',
        },
      });
    expect(state.balance).toBe(50);
  });

  it('rejects ids with control characters, and accepts odd but printable unicode', () => {
    givenAccount('u1', purchased(10))
      .when({ type: 'SpendCredits', amount: 1, targetType: 'gig', targetId: 'gig\u0000789', reason: '', now })
      .thenRejects('INVALID_ID', { field: 'targetId' });
    const decision = decide(
      { type: 'SpendCredits', amount: 1, targetType: 'gig', targetId: 'gíg-🚀-名前', reason: 'ok', now },
      fold(initialState('u1'), [purchased(10)]),
    );
    expect(decision.ok).toBe(true);
  });

  it('rejects non-numeric and unsafe amounts as INVALID_AMOUNT rather than doing arithmetic on them', () => {
    for (const amount of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      '10' as unknown as number,
      0,
      -0,
      undefined as unknown as number,
    ]) {
      givenAccount('u1', purchased(10))
        .when({ type: 'SpendCredits', amount, targetType: 'gig', targetId: 'g', reason: '', now })
        .thenRejects('INVALID_AMOUNT');
    }
  });

  it('exempts gig-payment receipts from balanceMax (the payer was already debited) but not from the hard ceiling', () => {
    const rich = fold(initialState('payee'), [purchased(accountLimits.balanceMax)]);
    const receive = (amount: number): AccountCommand => ({
      type: 'ReceiveGigPayment',
      transferId: 't',
      gigId: 'g',
      payerId: 'p',
      amount,
      now,
    });
    expect(decide(receive(5), rich).ok).toBe(true);
    const atCeiling = { ...rich, balance: accountLimits.balanceHardMax };
    expect(decide(receive(1), atCeiling)).toMatchObject({ ok: false, rejection: { code: 'BALANCE_OVER_LIMIT' } });
  });

  it('is pure: the same command on the same state decides the same events', () => {
    const state = fold(initialState('u1'), [purchased(1000)]);
    expect(decide(activate(), state)).toEqual(decide(activate(), state));
    expect(state.balance).toBe(1000);
  });
});
