/**
 * Business rejections: the closed set of reasons a valid-looking command is refused. Nothing is
 * appended for a rejected command. `decide` checks them in exactly this order (the precedence), so
 * a command with several problems always reports the first; docs/reference/errors.md lists the same
 * order and a test fails when a code is missing there.
 */
export const rejectionCodes = [
  /** The idempotency key was already used on this account for a different request (checked before anything else). */
  'IDEMPOTENCY_KEY_REUSED',
  /** An id (user, gig, clan, boost, transfer, payment reference, source) is empty, too long or has control characters. */
  'INVALID_ID',
  /** A free-text field (spend reason) is too long or has control characters. */
  'INVALID_TEXT',
  /** The amount is not a whole number of credits greater than zero. */
  'INVALID_AMOUNT',
  /** The amount is above `amountPerCommandMax`. */
  'AMOUNT_OVER_LIMIT',
  /** The target type is not one of the allowed values for this command. */
  'INVALID_TARGET_TYPE',
  /** The boost duration is not a finite number of hours greater than zero (at least one millisecond). */
  'INVALID_DURATION',
  /** The boost duration is above `boostDurationHoursMax`. */
  'DURATION_OVER_LIMIT',
  /** A gig payment to the payer's own account. */
  'SELF_PAYMENT',
  /** A boost with this id is already active on this account. */
  'BOOST_ALREADY_ACTIVE',
  /** No active boost with this id on this account (never activated, or already expired). */
  'BOOST_NOT_FOUND',
  /** The boost exists but its expiry time has not come yet. */
  'BOOST_NOT_DUE',
  /** The account already holds `activeBoostsPerAccountMax` active boosts. */
  'TOO_MANY_ACTIVE_BOOSTS',
  /** The credit would take the balance above `balanceMax` (receipts: above `balanceHardMax`). */
  'BALANCE_OVER_LIMIT',
  /** The debit is larger than the balance. */
  'INSUFFICIENT_CREDITS',
] as const;

export type RejectionCode = (typeof rejectionCodes)[number];

/** Codes that depend on the account's state (the rest on the command alone): a newer state may answer differently. */
export const stateDependentRejections: ReadonlySet<RejectionCode> = new Set<RejectionCode>([
  'BOOST_ALREADY_ACTIVE',
  'BOOST_NOT_FOUND',
  'BOOST_NOT_DUE',
  'TOO_MANY_ACTIVE_BOOSTS',
  'BALANCE_OVER_LIMIT',
  'INSUFFICIENT_CREDITS',
]);

export interface Rejection {
  readonly code: RejectionCode;
  readonly message: string;
  /** Extra machine-readable facts, e.g. `{ balance, required }` for INSUFFICIENT_CREDITS. */
  readonly details?: Readonly<Record<string, string | number>>;
}

export const reject = (code: RejectionCode, message: string, details?: Rejection['details']): Rejection =>
  details === undefined ? { code, message } : { code, message, details };
