import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../shared/clock.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { removeTempDirs, tempDir } from '../testing/tempDir.js';
import { AccountCommandHandler } from './accountCommandHandler.js';
import { snapshotKey } from './accountSnapshots.js';
import { closeAfterSnapshots } from './closeAfterSnapshots.js';

afterEach(removeTempDirs);

const clock = new ManualClock();
const context = { actor: 'test', correlationId: 'c', causationId: 'c' };

/** A handler that snapshots every 2 events, whose last command has just crossed a snapshot point; then `close` at once. */
const snapshotDueAtShutdown = async (
  close: (handler: AccountCommandHandler, store: SqliteEventStore) => Promise<void>,
): Promise<unknown> => {
  const path = join(tempDir(), 'events.db');
  const store = new SqliteEventStore({ path });
  const handler = new AccountCommandHandler(store, { eventsPerSnapshot: 2 });
  for (const paymentRef of ['p1', 'p2'])
    await handler.execute('ana', { type: 'PurchaseCredits', amount: 5, paymentRef, now: clock.now() }, context);
  await close(handler, store);
  const reopened = new SqliteEventStore({ path });
  try {
    return await reopened.readRecord(snapshotKey('account-ana'));
  } finally {
    await reopened.close();
  }
};

describe('shutdown: closeAfterSnapshots', () => {
  it('a snapshot due when the process shuts down is written before the store closes, and readable after a restart', async () => {
    const snapshot = await snapshotDueAtShutdown(closeAfterSnapshots);
    expect(snapshot).toMatchObject({ stream: 'account-ana', revision: 1 });
  });

  it('(the control) closing the store alone cuts that snapshot: the store refuses writes once it is closing', async () => {
    expect(await snapshotDueAtShutdown((_, store) => store.close())).toBeUndefined();
  });
});
