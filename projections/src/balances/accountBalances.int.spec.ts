import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler, ManualClock, platformAccounts, SqliteEventStore } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { feed } from '../testing/feed.js';
import { AccountBalancesProjection } from './accountBalances.js';

let store: SqliteEventStore;
let models: SqliteReadModelStore;
beforeEach(() => {
  const dir = tempDir();
  store = new SqliteEventStore({ path: join(dir, 'events.db') });
  models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
});
afterEach(async () => {
  await store.close();
  await models.close();
  removeTempDirs();
});

const nearLimit = -(2n ** 53n) + 1000n;

describe('account_balances past 2^53', () => {
  it('keeps a platform account exact past 2^53 and stays live, users keeping their balances', async () => {
    const projection = new AccountBalancesProjection(models);
    await projection.loadCheckpoint();
    // A platform account a long history has brought near -2^53 (ten million purchases take too long to append here).
    await models.commit([
      {
        op: 'put',
        collection: 'account_balances__v1',
        id: platformAccounts.sales,
        position: -1,
        doc: { account: platformAccounts.sales, kind: 'platform', balance: nearLimit.toString(), position: -1 },
      },
    ]);
    const handler = new AccountCommandHandler(store);
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
    for (const userId of ['a', 'b', 'c']) {
      const result = await handler.execute(
        userId,
        { type: 'PurchaseCredits', amount: 1_000_000_000, paymentRef: 'p', now: clock.now() },
        context,
      );
      expect(result.ok).toBe(true);
    }
    await feed(store, projection);
    const sales = await projection.balanceOf(platformAccounts.sales);
    expect(sales?.balance).toBe(nearLimit - 3_000_000_000n);
    expect(sales?.balance.toString()).toBe('-9007202254739992');
    expect((await projection.balanceOf('a'))?.balance).toBe(1_000_000_000n);
    // Stored as a decimal string, and the projection is level with the log.
    expect((await models.get('account_balances__v1', platformAccounts.sales))?.balance).toBe('-9007202254739992');
    expect(await models.checkpoint(projection.checkpointName)).toBe(await store.headPosition());
  });
});
