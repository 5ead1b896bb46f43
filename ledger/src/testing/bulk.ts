import { randomUUID } from 'node:crypto';
import { accountStream, platformAccounts } from '../accounts/events.js';
import type { EventStore, EventToAppend, JsonObject } from '../eventStore/eventStore.js';
import { eventHash, genesisHash } from '../shared/hashChain.js';

/**
 * A long log fast: `accounts × perAccount` purchases of 1 credit appended straight to the store (valid
 * events, balances chained through balanceAfter) on `account-bulk-{n}`, 100 per append (tests).
 */
export const appendBulkPurchases = async (store: EventStore, accounts: number, perAccount: number): Promise<void> => {
  const chunk = 100;
  for (let from = 0; from < perAccount; from += chunk) {
    const size = Math.min(chunk, perAccount - from);
    await Promise.all(
      Array.from({ length: accounts }, (_, a) =>
        store.append(
          `account-bulk-${a}`,
          Array.from({ length: size }, (_, i) => {
            const n = from + i + 1;
            const data = { amount: 1, paymentRef: `p${n}`, counterparty: platformAccounts.sales, balanceAfter: n };
            return { id: randomUUID(), type: 'CreditsPurchased', data, metadata: { schemaVersion: 1 } };
          }),
          { expectedRevision: from === 0 ? 'no_stream' : from - 1 },
        ),
      ),
    );
  }
};

/**
 * Appends `count` valid purchases of 1 credit to `userId`'s account, chained to its tail, straight to
 * the store (tests and benchmarks): events the command handler loads as its own, hash chain and
 * balances included, 1,000 per append.
 */
export const appendChainedPurchases = async (store: EventStore, userId: string, count: number): Promise<void> => {
  const stream = accountStream(userId);
  const tail: { revision: number; hash: string; balance: number } = { revision: -1, hash: genesisHash, balance: 0 };
  for (let from = 0; ;) {
    const page = await store.readStream(stream, { fromRevision: from, maxCount: 1000 });
    for (const e of page) {
      tail.revision = e.revision;
      tail.hash = e.metadata.hash as string;
      if (typeof e.data.balanceAfter === 'number') tail.balance = e.data.balanceAfter;
    }
    if (page.length < 1000) break;
    from += page.length;
  }
  for (let done = 0; done < count;) {
    const batch: EventToAppend[] = [];
    const expectedRevision = tail.revision;
    for (let i = 0; i < Math.min(1000, count - done); i++) {
      tail.balance += 1;
      const data: JsonObject = {
        amount: 1,
        paymentRef: `bulk-${done + i}`,
        counterparty: platformAccounts.sales,
        balanceAfter: tail.balance,
      };
      const metadata: JsonObject = { schemaVersion: 1, commandId: randomUUID(), prevHash: tail.hash };
      tail.revision += 1;
      tail.hash = eventHash({ stream, revision: tail.revision, type: 'CreditsPurchased', data, metadata });
      batch.push({ id: randomUUID(), type: 'CreditsPurchased', data, metadata: { ...metadata, hash: tail.hash } });
    }
    await store.append(stream, batch, { expectedRevision: expectedRevision === -1 ? 'no_stream' : expectedRevision });
    done += batch.length;
  }
};
