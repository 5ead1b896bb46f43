import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler, SqliteEventStore, ManualClock } from '../../ledger/src/index.js';
import { appendBulkPurchases, removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import { openProjectionReads } from './projectionReads.js';
import { SqliteReadModelStore } from './readModels/sqliteReadModelStore.js';
import { Projector } from './runtime/projector.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

/** Two connections to each file, as the API process and the workers process have. */
const open = () => {
  const dir = tempDir();
  const workersStore = new SqliteEventStore({ path: join(dir, 'events.db'), backgroundCheckpoints: false });
  const workersModels = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  const apiStore = new SqliteEventStore({ path: join(dir, 'events.db'), backgroundCheckpoints: false });
  const apiModels = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  closers.push(
    () => workersStore.close(),
    () => workersModels.close(),
    () => apiStore.close(),
    () => apiModels.close(),
  );
  const reads = openProjectionReads({
    store: apiStore,
    readModels: apiModels,
    handler: new AccountCommandHandler(apiStore),
    clock: new ManualClock(),
  });
  return { workersStore, workersModels, reads };
};

describe('openProjectionReads: the projections seen from a process that does not run them', () => {
  it('reports each projection behind until its checkpoint reaches the head, from the stores alone', async () => {
    const { workersStore, workersModels, reads } = open();
    await appendBulkPurchases(workersStore, 3, 10);
    const head = await workersStore.headPosition();

    const before = await reads.statuses();
    expect(before.map((s) => s.name)).toEqual([
      'account_balances',
      'service_read_models',
      'gig_payment_settlement',
      'boost_expiry',
      'audit_index',
    ]);
    for (const status of before) {
      expect(status.lagEvents).toBe(30); // every event appended (3 accounts × 10)
      expect(status.caughtUpOnce).toBe(false);
      expect(status.state).toBe('catching-up');
    }

    const projector = new Projector(workersStore, new AccountBalancesProjection(workersModels));
    projector.start();
    closers.push(() => projector.stop());
    await projector.waitUntilCaughtUp();

    const after = new Map((await reads.statuses()).map((s) => [s.name, s]));
    expect(after.get('account_balances')).toMatchObject({ lagEvents: 0, checkpoint: head, caughtUpOnce: true, state: 'live' });
    // The others never ran: still behind, never caught up.
    expect(after.get('service_read_models')).toMatchObject({ lagEvents: 30, caughtUpOnce: false });
    // And what the read model holds is what the API reads.
    expect((await reads.balances.balanceOf('bulk-0'))?.balance).toBe(10n);
  });

  it('keeps a projection counted as caught up once it reached the head first seen, while the log moves on', async () => {
    const { workersStore, workersModels, reads } = open();
    await appendBulkPurchases(workersStore, 2, 5);
    await reads.statuses(); // the head as first seen: 10 events
    const projector = new Projector(workersStore, new AccountBalancesProjection(workersModels));
    projector.start();
    closers.push(() => projector.stop());
    await projector.waitUntilCaughtUp();
    await projector.stop();
    // More events that nothing folds: behind again, yet it has been level with the log.
    await workersStore.append(
      'account-later',
      [
        {
          id: '019b0000-0000-7000-8000-0000000000aa',
          type: 'CreditsPurchased',
          data: { amount: 1, paymentRef: 'x', counterparty: 'platform:sales', balanceAfter: 1 },
          metadata: { schemaVersion: 1 },
        },
      ],
      { expectedRevision: 'no_stream' },
    );
    const status = (await reads.statuses()).find((s) => s.name === 'account_balances');
    expect(status).toMatchObject({ lagEvents: 1, caughtUpOnce: true });
  });

  it('takes what only the workers know (retries, errors, state) from their reports', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db'), backgroundCheckpoints: false });
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    closers.push(
      () => store.close(),
      () => models.close(),
    );
    const reads = openProjectionReads({
      store,
      readModels: models,
      handler: new AccountCommandHandler(store),
      clock: new ManualClock(),
      reported: () => [
        {
          name: 'gig_payment_settlement',
          state: 'retrying',
          retries: 3,
          stallRestarts: 1,
          lastError: 'locked',
          handledEvents: 7,
        },
      ],
    });
    const settlement = (await reads.statuses()).find((s) => s.name === 'gig_payment_settlement');
    expect(settlement).toMatchObject({ state: 'retrying', retries: 3, stallRestarts: 1, lastError: 'locked', handledEvents: 7 });
    const balances = (await reads.statuses()).find((s) => s.name === 'account_balances');
    expect(balances).toMatchObject({ retries: 0, lastError: undefined });
  });
});
