import { randomUUID } from 'node:crypto';
import { platformAccounts } from '../accounts/events.js';
import type { EventStore } from '../eventStore/eventStore.js';

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
