/** What a command carries besides itself: who asked, why, and how a repeat of it is recognised. */
export interface CommandContext {
  /** Who asked: a user id, `service:<name>` or `admin:<id>`; recorded in every event's metadata. */
  readonly actor: string;
  /** The request or workflow this command belongs to. */
  readonly correlationId: string;
  /** The message (request, event) that caused this command. */
  readonly causationId: string;
  /**
   * The client's idempotency key and a fingerprint of what it asked for. A command repeated with
   * the same key returns the original outcome and appends nothing; the same key with a different
   * fingerprint is rejected with IDEMPOTENCY_KEY_REUSED. Keys are scoped to the account; callers
   * that take keys from outside (the gateway) namespace them, so that they can never equal the keys
   * the reactors use on the same account (`expire-…`, `settle-…`).
   */
  readonly idempotency?: IdempotencyKey & {
    /**
     * Other keys this request may already have been recorded under, looked up after `key` (same
     * fingerprint check). The gateway's purchases are keyed by their paymentRef, so that a payment
     * is credited once whatever keys its deliveries carry; the client's own key is an alias.
     */
    readonly aliases?: readonly IdempotencyKey[];
  };
}

export interface IdempotencyCheck {
  readonly fingerprint: string;
  /** The message of the IDEMPOTENCY_KEY_REUSED rejection when this key names a different request. */
  readonly reused?: string;
}

export interface IdempotencyKey extends IdempotencyCheck {
  readonly key: string;
}
