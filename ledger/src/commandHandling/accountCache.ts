import type { AccountState } from '../accounts/state.js';

/** An account folded up to a revision. */
export interface LoadedAccount {
  readonly state: AccountState;
  /** Revision of the last folded event; -1 for an account with no events. */
  readonly revision: number;
  /** Hash of the last folded event, the next event's `prevHash`. */
  readonly lastHash: string;
}

/**
 * Folded accounts by stream, least recently used evicted first, so a command on a known account
 * reads nothing. An entry may be behind the log when another process appended since; the handler
 * finds out from the append's conflict (or, for a rejection, by reading the tail).
 */
export class AccountCache {
  readonly #accounts = new Map<string, LoadedAccount>();

  constructor(readonly accountsMax: number) {}

  /** The cached account, refreshed in the LRU order; undefined when it is not cached. */
  get(stream: string): LoadedAccount | undefined {
    const hit = this.#accounts.get(stream);
    if (hit !== undefined) {
      this.#accounts.delete(stream);
      this.#accounts.set(stream, hit);
    }
    return hit;
  }

  remember(stream: string, account: LoadedAccount): void {
    this.#accounts.delete(stream);
    this.#accounts.set(stream, account);
    if (this.#accounts.size > this.accountsMax) {
      const oldest = this.#accounts.keys().next();
      if (oldest.done !== true) this.#accounts.delete(oldest.value);
    }
  }

  forget(stream: string): void {
    this.#accounts.delete(stream);
  }
}
