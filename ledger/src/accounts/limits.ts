/**
 * Every business limit of the ledger, in one place. Documented in docs/reference/events.md.
 *
 * The numbers keep all arithmetic far inside Number.MAX_SAFE_INTEGER (2^53 - 1 ≈ 9.007e15):
 * a balance is at most 10^12 credits and one command moves at most 10^9, so even a balance at its
 * ceiling plus the largest single receipt stays exact.
 */
export const accountLimits = {
  /** Largest amount one command may move. */
  amountPerCommandMax: 1_000_000_000,
  /** Largest balance a purchase or earning may produce. Gig-payment receipts are exempt (see below). */
  balanceMax: 1_000_000_000_000,
  /**
   * Hard ceiling for any balance, receipts included. A gig payment is already debited from the
   * payer when it is received, so it is only refused if the payee's balance would leave the exact
   * integer range; this ceiling is unreachable with the limits above in any realistic history.
   */
  balanceHardMax: Number.MAX_SAFE_INTEGER - 1_000_000_000,
  /** Longest boost: one year. */
  boostDurationHoursMax: 8760,
  /** Active (not yet expired) boosts one account may hold at once. Bounds the account's state. */
  activeBoostsPerAccountMax: 100,
  /** Longest id (user, gig, clan, boost, transfer, payment ref, …), in UTF-16 code units. */
  idLengthMax: 128,
  /** Longest free-text field (spend reason, earning source). */
  textLengthMax: 500,
} as const;
