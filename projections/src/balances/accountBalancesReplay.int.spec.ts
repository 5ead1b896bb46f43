import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AccountCommandHandler,
  ManualClock,
  platformAccounts,
  SqliteEventStore,
  userAccount,
} from '../../../ledger/src/index.js';
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

describe('account_balances on a replayed batch', () => {
  it('folds into each balance only the legs past its stored position, however the batch sums them', async () => {
    const handler = new AccountCommandHandler(store);
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
    const positions: number[] = [];
    for (const [userId, amount] of [
      ['a', 100],
      ['b', 20],
      ['a', 3],
      ['a', 4000],
      ['b', 50_000],
    ] as const) {
      const result = await handler.execute(
        userId,
        { type: 'PurchaseCredits', amount, paymentRef: `p${positions.length}`, now: clock.now() },
        context,
      );
      if (!result.ok) throw new Error(result.rejection.code);
      positions.push(result.events[0]?.position ?? -1);
    }
    // As after a crash between a store's writes and its checkpoint (MongoDB has no transaction):
    // a's balance already holds its first two purchases, the checkpoint nothing.
    const projection = new AccountBalancesProjection(models);
    await projection.loadCheckpoint();
    await models.commit([
      {
        op: 'put',
        collection: 'account_balances__v1',
        id: userAccount('a'),
        position: positions[2] ?? -1,
        doc: { account: userAccount('a'), kind: 'user', balance: '103', position: positions[2] },
      },
    ]);
    await feed(store, projection);
    expect((await projection.balanceOf('a'))?.balance).toBe(4103n);
    expect((await projection.balanceOf('a'))?.position).toBe(positions[3]);
    expect((await projection.balanceOf('b'))?.balance).toBe(50_020n);
    expect((await projection.balanceOf(platformAccounts.sales))?.balance).toBe(-54_123n);
  });
});
