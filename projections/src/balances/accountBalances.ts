import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import { accountStreamPrefix, clanAccount, userAccount } from '../../../ledger/src/accounts/events.js';
import { addCredits, postingsOf } from '../../../ledger/src/accounts/postings.js';
import { toCommitted } from '../../../ledger/src/commandHandling/accountCommandHandler.js';
import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import type { SqliteReadModels } from '../readModels/sqliteReadModels.js';
import { VersionedProjection } from '../readModels/versionedProjection.js';
import { physicalTable } from '../readModels/versions.js';

export interface AccountBalance {
  readonly account: string;
  readonly kind: 'user' | 'platform' | 'clan';
  readonly balance: number;
  /** Log position of the last event that moved this account. */
  readonly position: number;
}

interface BalanceReaders {
  readonly get: Database.Statement<[string], AccountBalance>;
  readonly total: Database.Statement<[], { total: number | null; accounts: number }>;
}

/** The read model's tables (each version has its own copy; readers see views with these names). */
export const accountBalancesTables = ['account_balances'] as const;

const kindOf = (account: string): AccountBalance['kind'] =>
  account.startsWith('user:') ? 'user' : account.startsWith('clan:') ? 'clan' : 'platform';

/**
 * `account_balances`: the balance of every account, users and the derived platform and clan accounts
 * alike, summed from the double-entry legs of every event. The books can be checked from here: the
 * balances sum to zero after every batch.
 */
export class AccountBalancesProjection extends VersionedProjection {
  readonly name = 'account_balances';
  readonly tables = accountBalancesTables;
  #add: Database.Statement<[string, string, number, number]> | undefined;
  #readers: BalanceReaders | undefined;
  /** Net change per account over the batch in hand, written once at its end (same transaction). */
  #deltas: Map<string, { amount: number; position: number }> | undefined;

  constructor(models: SqliteReadModels, options: { version?: number } = {}) {
    super(models, options);
    this.init();
  }

  /** Readers go through the view, which always shows the active version (prepared once it exists). */
  get #read(): BalanceReaders {
    this.#readers ??= {
      get: this.models.db.prepare('SELECT account, kind, balance, position FROM account_balances WHERE account = ?'),
      total: this.models.db.prepare('SELECT SUM(balance) AS total, COUNT(*) AS accounts FROM account_balances'),
    };
    return this.#readers;
  }

  protected createTables(version: number): void {
    this.models.db.exec(`
      CREATE TABLE IF NOT EXISTS ${physicalTable('account_balances', version)} (
        account  TEXT PRIMARY KEY,
        kind     TEXT NOT NULL,
        balance  INTEGER NOT NULL,
        position INTEGER NOT NULL
      );
    `);
  }

  protected prepare(version: number): void {
    this.#add = this.models.db.prepare(
      `INSERT INTO ${physicalTable('account_balances', version)} (account, kind, balance, position) VALUES (?, ?, ?, ?)
       ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance, position = excluded.position`,
    );
  }

  protected override beginBatch(): void {
    this.#deltas = new Map();
  }

  protected override endBatch(): void {
    assert.ok(this.#add !== undefined && this.#deltas !== undefined, 'prepared by init, opened by beginBatch');
    for (const [account, { amount, position }] of this.#deltas) this.#add.run(account, kindOf(account), amount, position);
    this.#deltas = undefined;
  }

  protected apply(recorded: RecordedEvent): void {
    if (!recorded.stream.startsWith(accountStreamPrefix)) return;
    assert.ok(this.#deltas !== undefined, 'inside a batch');
    const userId = recorded.stream.slice(accountStreamPrefix.length);
    for (const { account, amount } of postingsOf(userId, toCommitted(recorded).event)) {
      const delta = this.#deltas.get(account);
      this.#deltas.set(account, { amount: addCredits(delta?.amount ?? 0, amount), position: recorded.position });
    }
  }

  /** An account's balance: `user:{id}`, `clan:{id}`, `platform:…`; bare ids are read as users. */
  balanceOf(account: string): AccountBalance | undefined {
    const key = account.includes(':') ? account : userAccount(account);
    return this.#read.get.get(key);
  }

  clanBalance(clanId: string): AccountBalance | undefined {
    return this.#read.get.get(clanAccount(clanId));
  }

  /** The sum of every balance (zero when the books balance) and how many accounts there are. */
  totals(): { total: number; accounts: number } {
    const row = this.#read.total.get();
    return { total: row?.total ?? 0, accounts: row?.accounts ?? 0 };
  }
}
