import { accountEventOf, clanAccount, userAccount, postingsOf, type RecordedEvent } from '../../../ledger/src/index.js';
import { BatchDocuments, type DocumentCodec } from '../readModels/batchDocuments.js';
import type { CollectionSpec, ReadModelStore, Write } from '../readModels/readModelStore.js';
import { totalOf, totalText, WholeSum } from '../readModels/totals.js';
import { VersionedProjection, type VersionedProjectionOptions } from '../readModels/versionedProjection.js';

export interface AccountBalance {
  readonly account: string;
  readonly kind: 'user' | 'platform' | 'clan';
  /**
   * Exact: the platform and clan accounts have no bound (a user's balance keeps the ledger's limits,
   * which the ledger enforces). Stored and served as a decimal string.
   */
  readonly balance: bigint;
  /** Log position of the last event that moved this account. */
  readonly position: number;
}

/** The read model's collections (each version has its own copy). */
export const accountBalancesCollections: readonly CollectionSpec[] = [
  { name: 'account_balances', database: 'ledger', indexes: [] },
];

const kindOf = (account: string): AccountBalance['kind'] =>
  account.startsWith('user:') ? 'user' : account.startsWith('clan:') ? 'clan' : 'platform';

const emptyBalance = (account: string): AccountBalance => ({
  account,
  kind: kindOf(account),
  balance: 0n,
  position: -1,
});

/** Balances are stored as decimal strings (older versions stored numbers; `totalOf` reads both). */
const balanceCodec: DocumentCodec<AccountBalance> = {
  decode: (stored) => toBalance(stored),
  encode: (doc) => ({ ...doc, balance: totalText(doc.balance) }),
};

/** Pages through a whole collection when summing it (admin checks and tests, not request paths). */
const totalsPage = 5000;

/**
 * `account_balances`: the balance of every account, users and the derived platform and clan accounts
 * alike, summed from the double-entry legs of every event. The books can be checked from here: the
 * balances sum to zero after every batch.
 */
export class AccountBalancesProjection extends VersionedProjection {
  readonly name = 'account_balances';
  /** 2: balances are exact, stored as decimal strings (issue 11). */
  readonly foldsVersion: number = 2;
  readonly collections = accountBalancesCollections;

  constructor(store: ReadModelStore, options: VersionedProjectionOptions = {}) {
    super(store, options);
  }

  /** Balances touched since the last drain. */
  #balances: BatchDocuments<AccountBalance> | undefined;

  protected async project(events: readonly RecordedEvent[]): Promise<void> {
    const legs: { position: number; account: string; amount: number }[] = [];
    for (const recorded of events) {
      const decoded = accountEventOf(recorded);
      if (decoded === undefined) continue;
      for (const { account, amount } of postingsOf(decoded.userId, decoded.event))
        legs.push({ position: recorded.position, account, amount });
    }
    this.#balances ??= new BatchDocuments(this.store, this.writing('account_balances'), emptyBalance, balanceCodec);
    const balances = this.#balances;
    await balances.load(legs.map((leg) => leg.account));
    // Each account's legs in this batch past its document's position (an event's two legs move two
    // different accounts, so each leg counts once) are summed as numbers, then folded into the exact
    // balance once: one bigint addition and one new document per account and batch, not per leg.
    const sums = new Map<string, { position: number; sum: WholeSum }>();
    for (const { position, account, amount } of legs) {
      let moved = sums.get(account);
      if (moved === undefined) sums.set(account, (moved = { position: balances.positionOf(account), sum: new WholeSum() }));
      if (position <= moved.position) continue; // already folded: a replayed batch
      moved.sum.add(amount);
      moved.position = position;
    }
    for (const [account, { position, sum }] of sums)
      balances.update(account, position, (doc) => ({ ...doc, balance: sum.addTo(doc.balance), position }));
  }

  protected reset(): void {
    this.#balances = undefined;
  }

  protected drain(): Promise<Write[]> {
    const writes = this.#balances?.writes() ?? [];
    this.#balances = undefined;
    return Promise.resolve(writes);
  }

  /** An account's balance: `user:{id}`, `clan:{id}`, `platform:…`; bare ids are read as users. */
  async balanceOf(account: string): Promise<AccountBalance | undefined> {
    const key = account.includes(':') ? account : userAccount(account);
    const found = await this.store.get(await this.reading('account_balances'), key);
    return found === undefined ? undefined : toBalance(found);
  }

  clanBalance(clanId: string): Promise<AccountBalance | undefined> {
    return this.balanceOf(clanAccount(clanId));
  }

  /** Every balance, in account order. */
  async all(): Promise<AccountBalance[]> {
    const collection = await this.reading('account_balances');
    const balances: AccountBalance[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.store.find(collection, {
        orderBy: [['_id', 1]],
        limit: totalsPage,
        ...(after === undefined ? {} : { after: [after] }),
      });
      balances.push(...page.map(toBalance));
      const last = page[page.length - 1];
      if (last === undefined || page.length < totalsPage) return balances;
      after = last._id;
    }
  }

  /** The sum of every balance (zero when the books balance) and how many accounts there are. */
  async totals(): Promise<{ total: bigint; accounts: number }> {
    const all = await this.all();
    return { total: all.reduce((sum, b) => sum + b.balance, 0n), accounts: all.length };
  }
}

const toBalance = (doc: Record<string, unknown>): AccountBalance => ({
  account: doc.account as string,
  kind: doc.kind as AccountBalance['kind'],
  balance: totalOf(doc.balance),
  position: doc.position as number,
});
