import type Database from 'better-sqlite3';
import { accountStreamPrefix, clanAccount, userAccount } from '../../../ledger/src/accounts/events.js';
import { postingsOf } from '../../../ledger/src/accounts/postings.js';
import { toCommitted } from '../../../ledger/src/commandHandling/accountCommandHandler.js';
import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import type { Subscriber } from '../runtime/projector.js';
import type { SqliteReadModels } from '../readModels/sqliteReadModels.js';

export interface AccountBalance {
  readonly account: string;
  readonly kind: 'user' | 'platform' | 'clan';
  readonly balance: number;
  /** Log position of the last event that moved this account. */
  readonly position: number;
}

const kindOf = (account: string): AccountBalance['kind'] =>
  account.startsWith('user:') ? 'user' : account.startsWith('clan:') ? 'clan' : 'platform';

/**
 * `account_balances`: the balance of every account, users and the derived platform and clan accounts
 * alike, summed from the double-entry legs of every event. The books can be checked from here: the
 * balances sum to zero after every batch.
 */
export class AccountBalancesProjection implements Subscriber {
  readonly name = 'account_balances';
  readonly #models: SqliteReadModels;
  readonly #add: Database.Statement<[string, string, number, number]>;
  readonly #get: Database.Statement<[string], AccountBalance>;
  readonly #total: Database.Statement<[], { total: number | null; accounts: number }>;

  constructor(models: SqliteReadModels) {
    this.#models = models;
    models.db.exec(`
      CREATE TABLE IF NOT EXISTS account_balances (
        account  TEXT PRIMARY KEY,
        kind     TEXT NOT NULL,
        balance  INTEGER NOT NULL,
        position INTEGER NOT NULL
      );
    `);
    this.#add = models.db.prepare(
      `INSERT INTO account_balances (account, kind, balance, position) VALUES (?, ?, ?, ?)
       ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance, position = excluded.position`,
    );
    this.#get = models.db.prepare('SELECT account, kind, balance, position FROM account_balances WHERE account = ?');
    this.#total = models.db.prepare('SELECT SUM(balance) AS total, COUNT(*) AS accounts FROM account_balances');
  }

  loadCheckpoint(): Promise<number> {
    return Promise.resolve(this.#models.checkpoint(this.name));
  }

  handle(batch: readonly RecordedEvent[]): Promise<void> {
    this.#models.transaction(() => {
      // A batch delivered again (a resubscription racing a commit) changes nothing: the checkpoint
      // read in this same transaction says what is already applied.
      const applied = this.#models.checkpoint(this.name);
      for (const recorded of batch) {
        if (recorded.position <= applied || !recorded.stream.startsWith(accountStreamPrefix)) continue;
        const userId = recorded.stream.slice(accountStreamPrefix.length);
        for (const { account, amount } of postingsOf(userId, toCommitted(recorded).event)) {
          this.#add.run(account, kindOf(account), amount, recorded.position);
        }
      }
      const last = batch[batch.length - 1];
      if (last !== undefined) this.#models.saveCheckpoint(this.name, last.position);
    });
    return Promise.resolve();
  }

  /** An account's balance: `user:{id}`, `clan:{id}`, `platform:…`; bare ids are read as users. */
  balanceOf(account: string): AccountBalance | undefined {
    const key = account.includes(':') ? account : userAccount(account);
    return this.#get.get(key);
  }

  clanBalance(clanId: string): AccountBalance | undefined {
    return this.#get.get(clanAccount(clanId));
  }

  /** The sum of every balance (zero when the books balance) and how many accounts there are. */
  totals(): { total: number; accounts: number } {
    const row = this.#total.get();
    return { total: row?.total ?? 0, accounts: row?.accounts ?? 0 };
  }
}
