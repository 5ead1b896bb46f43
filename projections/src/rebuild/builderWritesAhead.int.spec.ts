import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountCommandHandler, ManualClock, SqliteEventStore } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { physicalCollection } from '../readModels/versionedProjection.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';
import { dumpReadModel } from '../testing/dump.js';
import { rebuild } from './rebuild.js';

const closers: (() => Promise<void>)[] = [];

/** The log after `after` in batches of `size`. */
async function* batches(store: SqliteEventStore, after: number, size: number) {
  for (let position = after; ;) {
    const batch = await store.readAll({ after: position, maxCount: size });
    if (batch.length === 0) return;
    yield batch;
    position = batch[batch.length - 1]?.position ?? position;
  }
}
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

describe('a builder commits event-log entries ahead of its checkpoint', () => {
  it('after every batch, and a builder that crashed after some of them ends equal to a clean rebuild', async () => {
    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
    const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
    closers.push(
      () => store.close(),
      () => models.close(),
    );
    const handler = new AccountCommandHandler(store);
    const clock = new ManualClock('2026-06-29T13:30:00.000Z');
    const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
    for (let u = 0; u < 6; u++) {
      const run = async (command: Parameters<AccountCommandHandler['execute']>[1]) => {
        const result = await handler.execute(`u${u}`, command, context);
        if (!result.ok) throw new Error(result.rejection.code);
      };
      await run({ type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: clock.now() });
      for (let r = 0; r < 8; r++) {
        const target = (['profile', 'gig', 'clan'] as const)[r % 3] ?? 'gig';
        await run({
          type: 'ActivateBoost',
          boostId: `b${r}`,
          targetType: target,
          targetId: `t${r % 4}`,
          amount: 1 + r,
          durationHours: 1,
          now: clock.now(),
        });
        await run({ type: 'ContributeToClan', clanId: `c${u % 2}`, amount: 2, now: clock.now() });
        await run({
          type: 'PayForGig',
          transferId: `tr-${u}-${r}`,
          gigId: `t${r % 3}`,
          payeeId: `u${(u + 1) % 6}`,
          amount: 3,
          now: clock.now(),
        });
      }
    }
    await rebuild({ dropOldVersionsAfterMs: 0, store, models, readModel: 'service_read_models' });
    const clean = await dumpReadModel(new ServiceReadModelsProjection(models));
    const version = ((await models.activeVersion('service_read_models')) ?? 1) + 1;

    // A builder folding the log in batches of 10 that never reaches its flush before it "crashes".
    const crashed = new ServiceReadModelsProjection(models, { version, builderFlushEvents: 1_000_000 });
    let handled = 0;
    for await (const batch of batches(store, await crashed.loadCheckpoint(), 10)) {
      await crashed.handle(batch);
      handled += batch.length;
      if (handled >= 100) break;
    }
    // Its users' credit-log entries are stored already; its checkpoint and documents are not.
    expect((await models.count(physicalCollection('user_credit_events', version))) > 0).toBe(true);
    expect(await models.checkpoint(crashed.checkpointName)).toBe(-1);
    expect(await models.count(physicalCollection('gig_ranking', version))).toBe(0);

    // Another builder of the same version starts again from the checkpoint; the entries it inserts again change nothing.
    const again = new ServiceReadModelsProjection(models, { version, builderFlushEvents: 1_000_000 });
    for await (const batch of batches(store, await again.loadCheckpoint(), 7)) await again.handle(batch);
    await again.finishBuild();
    await models.setActiveVersion('service_read_models', version);
    expect(await dumpReadModel(new ServiceReadModelsProjection(models))).toEqual(clean);
  });
});
