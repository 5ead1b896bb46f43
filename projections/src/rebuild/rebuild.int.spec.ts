import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AccountCommand, AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import { AccountBalancesProjection } from '../balances/accountBalances.js';
import { SqliteReadModelStore } from '../readModels/sqliteReadModelStore.js';
import { builtVersions } from '../readModels/versionedProjection.js';
import { rebuild, RebuildInProgressError, rebuildLeases, rebuildTogether } from './rebuild.js';
import { Projector } from '../runtime/projector.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';
import { dumpReadModel } from '../testing/dump.js';
import { feed } from '../testing/feed.js';
import { BoostExpiryScheduler } from '../expiry/boostExpiryScheduler.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const clock = new ManualClock();
const context = { actor: 'test', correlationId: 'c', causationId: 'c' };

const open = () => {
  const dir = tempDir();
  const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
  const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  closers.push(
    () => store.close(),
    () => models.close(),
  );
  return { dir, store, models, handler: new AccountCommandHandler(store) };
};

let boostCounter = 0;
const traffic = async (handler: AccountCommandHandler, users: number, rounds: number): Promise<void> => {
  await Promise.all(
    Array.from({ length: users }, async (_, u) => {
      await handler.execute(`u${u}`, { type: 'PurchaseCredits', amount: 100_000, paymentRef: 'p', now: clock.now() }, context);
      for (let r = 0; r < rounds; r++) {
        const commands: AccountCommand[] = [
          {
            type: 'ActivateBoost',
            boostId: `b${boostCounter++}`,
            targetType: (['profile', 'gig', 'clan'] as const)[r % 3] ?? 'gig',
            targetId: `t${r % 7}`,
            amount: 1 + (r % 4),
            durationHours: 1,
            now: clock.now(),
          },
          { type: 'ContributeToClan', clanId: `c${u % 3}`, amount: 2, now: clock.now() },
          {
            type: 'PayForGig',
            transferId: `tr-${u}-${r}-${boostCounter}`,
            gigId: `t${r % 5}`,
            payeeId: `u${(u + 1) % users}`,
            amount: 3,
            now: clock.now(),
          },
        ];
        for (const command of commands) {
          const result = await handler.execute(`u${u}`, command, context);
          if (!result.ok && result.rejection.code !== 'TOO_MANY_ACTIVE_BOOSTS') throw new Error(result.rejection.code);
        }
      }
    }),
  );
};

/** Everything a reader can see: every document of the active versions. */
const snapshot = async (models: SqliteReadModelStore) => ({
  balances: await dumpReadModel(new AccountBalancesProjection(models)),
  services: await dumpReadModel(new ServiceReadModelsProjection(models)),
});

const rebuildAll = async (store: SqliteEventStore, models: SqliteReadModelStore): Promise<void> => {
  await rebuild({ dropOldVersionsAfterMs: 0, store, models, readModel: 'account_balances' });
  await rebuild({ dropOldVersionsAfterMs: 0, store, models, readModel: 'service_read_models' });
};

describe('blue/green rebuild', () => {
  it('keeps the old version for a grace period after readers switch, then drops it', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 2, 5);
    await rebuild({ dropOldVersionsAfterMs: 0, store, models, readModel: 'account_balances' });
    const calls: { call: string; at: number }[] = [];
    const watched = new Proxy(models, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (property === 'switchVersionIfCaughtUp' || property === 'dropCollection')
            calls.push({ call: `${property} ${String(args[0])}`, at: performance.now() });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    await rebuild({ dropOldVersionsAfterMs: 300, store, models: watched, readModel: 'account_balances' });
    const switched = calls.find((c) => c.call === 'switchVersionIfCaughtUp account_balances');
    const dropped = calls.find((c) => c.call === 'dropCollection account_balances__v2');
    expect(switched).toBeDefined();
    expect(dropped).toBeDefined();
    expect((dropped?.at ?? 0) - (switched?.at ?? 0)).toBeGreaterThanOrEqual(290);
    expect(await builtVersions(models, 'account_balances')).toEqual([3]);
  });

  it('two rebuilds produce identical read models, and old versions are dropped', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 10, 20);
    await rebuildAll(store, models);
    const first = await snapshot(models);
    await rebuildAll(store, models);
    expect(await snapshot(models)).toEqual(first);
    // Rebuilds start at v2 (a live projector creates v1 itself) and each makes the next one.
    expect(await models.activeVersion('service_read_models')).toBe(3);
    expect(await builtVersions(models, 'user_visibility')).toEqual([3]);
    // The builder creates the secondary indexes once it has caught up, before readers switch.
    const indexes = models.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'gig_ranking__v3' AND sql IS NOT NULL")
      .all();
    expect(indexes).toEqual([{ name: 'gig_ranking__v3__i0' }]);
    expect(first.balances.account_balances?.length).toBeGreaterThan(10);
    expect(first.services.user_visibility?.length).toBeGreaterThan(3);
    expect(first.services.clan_contributors?.length).toBeGreaterThan(5);
  });

  it('a builder that commits every few events ends equal to one that commits once', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 10, 20);
    // Expire the boosts so far, then boost again: activations and expiries land in different commits.
    const scheduler = new BoostExpiryScheduler({ store: models, handler, clock });
    await feed(store, scheduler);
    clock.advance({ hours: 2 });
    expect((await scheduler.expireDue()).length).toBeGreaterThan(100);
    await traffic(handler, 10, 5);
    await rebuildAll(store, models);
    const once = await snapshot(models);
    expect(once.services.active_boosts?.length).toBeGreaterThan(10);
    // Odd sizes, so that commits fall mid-batch and a boost's activation and expiry fall in different commits.
    for (const readModel of ['account_balances', 'service_read_models'] as const)
      await rebuild({ dropOldVersionsAfterMs: 0, store, models, readModel, readBatchEvents: 13, builderFlushEvents: 29 });
    expect(await snapshot(models)).toEqual(once);
    expect(await models.activeVersion('service_read_models')).toBe(3);
  });

  it('--all rebuilds every read model from one pass over the log, equal to rebuilding them one by one', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 10, 20);
    await rebuildAll(store, models);
    const separately = await snapshot(models);
    let reads = 0;
    // The same store, counting its log reads (methods bound to the store: it has private fields).
    const counting = new Proxy(store, {
      get: (target, key) => {
        if (key === 'readAll') {
          return (options: Parameters<SqliteEventStore['readAll']>[0]) => {
            reads++;
            return target.readAll(options);
          };
        }
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const progress: { readModel: string; version: number; done: boolean }[] = [];
    const results = await rebuildTogether({
      dropOldVersionsAfterMs: 0,
      store: counting,
      models,
      readModels: ['account_balances', 'service_read_models'],
      readBatchEvents: 50,
      onProgress: (p) => progress.push(p),
    });
    expect(await snapshot(models)).toEqual(separately);
    expect(results.map((r) => [r.readModel, r.version, r.done])).toEqual(
      [
        ['account_balances', 3],
        ['service_read_models', 3],
      ].map(([name, version]) => [name, version, true]),
    );
    // One read per batch for both builders (plus the empty reads that end each catch-up).
    const head = await store.headPosition();
    expect(reads).toBeLessThanOrEqual(Math.ceil((head + 1) / 50) + 3);
    expect(progress.filter((p) => p.readModel === 'account_balances').length).toBe(
      progress.filter((p) => p.readModel === 'service_read_models').length,
    );
    expect(await models.get(rebuildLeases.name, 'account_balances')).toBeUndefined();
    expect(await models.get(rebuildLeases.name, 'service_read_models')).toBeUndefined();
  });

  it('--all takes every lease or none: one read model being rebuilt refuses the whole run', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 3, 3);
    await models.ensureCollection(rebuildLeases);
    await models.commit([
      { op: 'insert', collection: rebuildLeases.name, id: 'service_read_models', doc: { owner: 'other', startedAt: 'x' } },
    ]);
    await expect(
      rebuildTogether({ dropOldVersionsAfterMs: 0, store, models, readModels: ['account_balances', 'service_read_models'] }),
    ).rejects.toBeInstanceOf(RebuildInProgressError);
    // The lease it did take is released, the other one is untouched, and no version was switched.
    expect(await models.get(rebuildLeases.name, 'account_balances')).toBeUndefined();
    expect((await models.get(rebuildLeases.name, 'service_read_models'))?.owner).toBe('other');
    expect(await models.activeVersion('account_balances')).toBeUndefined();
  });

  it('keeps serving the complete old version while the new one is built', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 5, 30);
    const live = new AccountBalancesProjection(models);
    const projector = new Projector(store, live);
    projector.start();
    closers.push(() => projector.stop());
    await projector.waitUntilCaughtUp();
    const served = (await live.balanceOf('u1'))?.balance;
    expect(served).toBeGreaterThan(0n);

    const seenDuringBuild: Promise<bigint | undefined>[] = [];
    await rebuild({
      dropOldVersionsAfterMs: 0,
      store,
      models,
      readModel: 'account_balances',
      onProgress: (p) => {
        if (!p.done) seenDuringBuild.push(live.balanceOf('u1').then((b) => b?.balance));
      },
    });
    expect(seenDuringBuild.length).toBeGreaterThan(0);
    expect(new Set(await Promise.all(seenDuringBuild))).toEqual(new Set([served]));
    expect((await live.balanceOf('u1'))?.balance).toBe(served);
  });

  it('a rebuild during live traffic ends equal to the live read model, and the live projector follows the new version', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 8, 10);
    const liveBalances = new AccountBalancesProjection(models);
    const liveServices = new ServiceReadModelsProjection(models);
    const projectors = [new Projector(store, liveBalances), new Projector(store, liveServices)];
    for (const p of projectors) {
      p.start();
      closers.push(() => p.stop());
    }
    // Traffic keeps coming while both read models are rebuilt.
    await Promise.all([traffic(handler, 8, 15), rebuildAll(store, models)]);
    await traffic(handler, 4, 5);
    for (const p of projectors) await p.waitUntilCaughtUp();
    expect(liveBalances.version).toBe(2);
    expect(liveServices.version).toBe(2);
    // Following a switch is not a failure: no retry counted, no backoff.
    for (const p of projectors) expect((await p.status()).retries).toBe(0);
    const afterLive = await snapshot(models);

    // A clean rebuild of the same log into a fresh file is the reference.
    const reference = new SqliteReadModelStore(join(tempDir(), 'readmodels.db'));
    closers.push(() => reference.close());
    await rebuildAll(store, reference);
    expect(afterLive).toEqual(await snapshot(reference));
    // The books balance on the read side too (unsettled payments sit in the transit account).
    expect((await liveBalances.totals()).total).toBe(0n);
  });

  it('switches readers only once the new version has everything the live one showed (readers never step back)', async () => {
    const { store, models, handler } = open();
    await handler.execute('ana', { type: 'PurchaseCredits', amount: 200, paymentRef: 'p1', now: clock.now() }, context);
    const live = new AccountBalancesProjection(models);
    await feed(store, live);
    const attempts: boolean[] = [];
    const watched = new Proxy(models, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (property !== 'switchVersionIfCaughtUp') return value.bind(target) as unknown;
        return async (...args: Parameters<SqliteReadModelStore['switchVersionIfCaughtUp']>) => {
          if (attempts.length === 0) {
            // Just before the first switch: a purchase lands and the live projector shows it.
            await handler.execute('ana', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p2', now: clock.now() }, context);
            await feed(store, live);
            expect((await live.balanceOf('ana'))?.balance).toBe(1200n);
          }
          const switched = await target.switchVersionIfCaughtUp(...args);
          attempts.push(switched);
          // Whenever readers are on the new version, they see at least what they saw before.
          if (switched) expect((await new AccountBalancesProjection(target).balanceOf('ana'))?.balance).toBe(1200n);
          return switched;
        };
      },
    });
    await rebuild({ dropOldVersionsAfterMs: 0, store, models: watched, readModel: 'account_balances' });
    expect(attempts).toEqual([false, true]);
    expect(await models.activeVersion('account_balances')).toBe(2);
    expect((await new AccountBalancesProjection(models).balanceOf('ana'))?.balance).toBe(1200n);
  });

  it('switches to the new version when the live one is ahead of the log itself (a log restored from a backup)', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 2, 3);
    await models.setActiveVersion('account_balances', 1);
    await models.commit([], { name: 'account_balances@v1', position: 1_000_000 });
    await rebuild({ dropOldVersionsAfterMs: 0, store, models, readModel: 'account_balances' });
    expect(await models.activeVersion('account_balances')).toBe(2);
  });

  it('a stop request still stops a rebuild that keeps waiting for the live version', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 2, 3);
    let attempts = 0;
    const stop = new AbortController();
    const neverCaughtUp = new Proxy(models, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === 'switchVersionIfCaughtUp') {
          return () => {
            if (++attempts === 3) stop.abort(new Error('stopped'));
            return Promise.resolve(false);
          };
        }
        return typeof value === 'function' ? (value.bind(target) as unknown) : value;
      },
    });
    await expect(
      rebuild({ dropOldVersionsAfterMs: 0, store, models: neverCaughtUp, readModel: 'account_balances', signal: stop.signal }),
    ).rejects.toThrow('stopped');
    expect(attempts).toBe(3);
    expect(await models.activeVersion('account_balances')).toBeUndefined();
    expect(await models.get(rebuildLeases.name, 'account_balances')).toBeUndefined(); // released
  });

  it('a rebuild whose lease was taken over (--force) stops without switching readers or releasing the new lease', async () => {
    const { store, models, handler } = open();
    await traffic(handler, 6, 40);
    let tookOver = false;
    const build = rebuild({
      dropOldVersionsAfterMs: 0,
      store,
      models,
      readModel: 'account_balances',
      owner: 'slow',
      onProgress: () => {
        if (tookOver) return;
        tookOver = true;
        // Another operator runs `rebuild account_balances --force` while this one is still going.
        void models.commit([
          { op: 'delete', collection: rebuildLeases.name, id: 'account_balances' },
          { op: 'insert', collection: rebuildLeases.name, id: 'account_balances', doc: { owner: 'forced', startedAt: 'now' } },
        ]);
      },
    });
    await expect(build).rejects.toBeInstanceOf(RebuildInProgressError);
    expect(await models.activeVersion('account_balances')).toBeUndefined();
    expect((await models.get(rebuildLeases.name, 'account_balances'))?.owner).toBe('forced');
  });
});
