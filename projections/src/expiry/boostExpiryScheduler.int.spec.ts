// Over 400 lines on purpose: the scheduler's behaviour end to end (pending set, rounds, backoff, stop,
// locked store, SIGKILL mid-round) in one file, sharing one setup.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../ledger/src/index.js';
import { removeTempDirs, tempDir, readWholeLog } from '../../../ledger/src/testing/index.js';
import { ReadModelStoreUnavailableError } from '../readModels/errors.js';
import { SqliteReadModelStore, sqliteReadModelStoreLimits } from '../readModels/sqliteReadModelStore.js';
import { ServiceReadModelsProjection } from '../services/serviceReadModels.js';
import { BoostExpiryScheduler, expiryLimits } from './boostExpiryScheduler.js';
import { pendingExpiries } from './pendingExpiries.js';
import { feed } from '../testing/feed.js';
import { Projector } from '../runtime/projector.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const context = { actor: 'test', correlationId: 'c', causationId: 'c' };

const open = (dir = tempDir()) => {
  const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
  const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  closers.push(
    () => store.close(),
    () => models.close(),
  );
  const clock = new ManualClock('2026-06-29T13:30:00.000Z');
  const handler = new AccountCommandHandler(store);
  const scheduler = new BoostExpiryScheduler({ store: models, handler, clock });
  /** The runtime's job, done by hand: feed the scheduler's pending set from the log. */
  const project = (): Promise<void> => feed(store, scheduler);
  return { dir, store, models, clock, handler, scheduler, project };
};

const boost = async (
  handler: AccountCommandHandler,
  clock: ManualClock,
  userId: string,
  boostId: string,
  durationHours: number,
) => {
  const result = await handler.execute(
    userId,
    { type: 'ActivateBoost', boostId, targetType: 'profile', targetId: 'user123', amount: 10, durationHours, now: clock.now() },
    context,
  );
  if (!result.ok) throw new Error(result.rejection.code);
};

/** `users` accounts (u0, u1, …), each buying credits and then activating `perUser` 1-hour profile boosts. */
const boostEach = async (handler: AccountCommandHandler, clock: ManualClock, users: number, perUser: number) => {
  await Promise.all(
    Array.from({ length: users }, async (_, n) => {
      const u = `u${n}`;
      await handler.execute(u, { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: clock.now() }, context);
      for (let b = 0; b < perUser; b++) await boost(handler, clock, u, `${u}-b${b}`, 1);
    }),
  );
};

const expiredEvents = (store: SqliteEventStore) => readWholeLog(store, 'BoostExpired');

describe('boost expiry', () => {
  it('expires a 24-hour boost at 24:00 and not a millisecond before, recording due and actual time', async () => {
    const { store, clock, handler, scheduler, project } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'b1', 24);
    await project();
    expect(await scheduler.pendingCount()).toBe(1);

    clock.set('2026-06-30T13:29:59.999Z');
    expect(await scheduler.expireDue()).toEqual([]);
    expect(await expiredEvents(store)).toEqual([]);

    clock.set('2026-06-30T13:30:00.000Z');
    expect(await scheduler.expireDue()).toEqual([
      { boostId: 'b1', userId: 'u1', dueAt: '2026-06-30T13:30:00.000Z', latenessMs: 0, appended: true },
    ]);
    const [expired] = await expiredEvents(store);
    expect(expired?.data).toMatchObject({
      boostId: 'b1',
      dueAt: '2026-06-30T13:30:00.000Z',
      expiredAt: '2026-06-30T13:30:00.000Z',
    });
    await project();
    expect(await scheduler.pendingCount()).toBe(0);
    expect(await scheduler.expireDue()).toEqual([]);
  });

  it('expires a boost id reused after its expiry once more, at its own due time', async () => {
    const { store, models, clock, handler, scheduler, project } = open();
    const services = new ServiceReadModelsProjection(models);
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'again', 1);
    await project();
    clock.advance({ hours: 1 });
    expect(await scheduler.expireDue()).toHaveLength(1);
    // Reactivated before the projection saw the first expiry: the round's clean-up must not drop it.
    await boost(handler, clock, 'u1', 'again', 2);
    await project();
    await feed(store, services);
    expect(await scheduler.pendingCount()).toBe(1);
    expect((await services.userVisibility('user123')).activeBoosts).toEqual([
      expect.objectContaining({ boostId: 'again', expiresAt: '2026-06-29T16:30:00.000Z' }),
    ]);
    clock.advance({ hours: 2 });
    expect(await scheduler.expireDue()).toEqual([
      expect.objectContaining({ boostId: 'again', dueAt: '2026-06-29T16:30:00.000Z', appended: true }),
    ]);
    expect((await expiredEvents(store)).map((e) => e.data.dueAt)).toEqual([
      '2026-06-29T14:30:00.000Z',
      '2026-06-29T16:30:00.000Z',
    ]);
    await feed(store, services);
    expect((await services.userVisibility('user123')).visibilityScore).toBe(0n);
  });

  it('handles fractional durations to the millisecond', async () => {
    const { store, clock, handler, scheduler, project } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'quarter', 0.25);
    await boost(handler, clock, 'u1', 'third', 1 / 3);
    await project();
    clock.set('2026-06-29T13:45:00.000Z');
    expect((await scheduler.expireDue()).map((o) => o.boostId)).toEqual(['quarter']);
    clock.set('2026-06-29T13:49:59.999Z');
    expect(await scheduler.expireDue()).toEqual([]);
    clock.set('2026-06-29T13:50:00.000Z');
    expect((await scheduler.expireDue()).map((o) => o.boostId)).toEqual(['third']);
    expect(await expiredEvents(store)).toHaveLength(2);
  });

  it('boosts that cannot be expired yet never hold up the ones due behind them', async () => {
    const { models, clock, handler, scheduler, project } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'not-due', 24);
    await boost(handler, clock, 'u1', 'due', 2);
    await project();
    // More pending rows than one page, all for a boost that is not due yet and all sorted first
    // (a clock that ran ahead wrote them, say): each attempt is refused with BOOST_NOT_DUE.
    const stuck = expiryLimits.dueBatchMax + 5;
    await models.commit(
      Array.from({ length: stuck }, (_, i) => {
        const dueAt = new Date(Date.parse('2026-06-29T13:30:00.000Z') + i).toISOString();
        return {
          op: 'insert' as const,
          collection: pendingExpiries.name,
          id: JSON.stringify(['u1', 'not-due', dueAt]),
          doc: { userId: 'u1', boostId: 'not-due', dueAtMs: Date.parse(dueAt), dueAt },
        };
      }),
    );
    clock.advance({ hours: 3 });
    const outcomes = await scheduler.expireDue();
    expect(outcomes.map((o) => o.boostId)).toEqual(['due']);
    expect(await scheduler.pendingCount()).toBe(stuck + 1); // the stuck rows and the real not-due one stay
  }, 60_000);

  it('a stop ends a long round once the commands in flight finish; what is left stays pending for the next start', async () => {
    const { clock, handler, models, project } = open();
    await boostEach(handler, clock, 11, 100);
    await project();
    clock.advance({ hours: 2 });
    let expired = 0;
    const timed = new BoostExpiryScheduler({ store: models, handler, clock, onExpired: () => expired++ });
    timed.start();
    await vi.waitFor(() => expect(expired).toBeGreaterThan(0), { timeout: 10_000, interval: 1 });
    await timed.stop(); // asked while the first page is being expired
    expect(expired).toBeLessThan(expiryLimits.dueBatchMax);
    expect(await timed.pendingCount()).toBe(1100 - expired);
    timed.start();
    closers.push(() => timed.stop());
    await vi.waitFor(async () => expect(await timed.pendingCount()).toBe(0), { timeout: 10_000, interval: 20 });
  }, 60_000);

  it('expires 10,000 boosts due in the same second, each once', async () => {
    const { store, clock, handler, scheduler, project } = open();
    await boostEach(handler, clock, 100, 100);
    await project();
    expect(await scheduler.pendingCount()).toBe(10_000);
    clock.advance({ hours: 1, milliseconds: 500 });
    const outcomes = await scheduler.expireDue();
    expect(outcomes).toHaveLength(10_000);
    expect(outcomes.every((o) => o.appended && o.latenessMs === 500)).toBe(true);
    const expired = await readWholeLog(store, 'BoostExpired');
    expect(new Set(expired.map((e) => e.data.boostId)).size).toBe(10_000);
    expect(expired).toHaveLength(10_000);
  }, 120_000);

  it('after a restart, expires at once what came due while it was down, recording the lateness', async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: first.clock.now() }, context);
    await boost(first.handler, first.clock, 'u1', 'b1', 2);
    await first.project();
    await first.store.close();
    await first.models.close();

    // Down for three hours; the new process reads its pending set from disk, not from history.
    const second = open(dir);
    expect(await second.scheduler.pendingCount()).toBe(1);
    second.clock.set('2026-06-29T16:30:00.000Z');
    const [outcome] = await second.scheduler.expireDue();
    expect(outcome).toMatchObject({ boostId: 'b1', appended: true, latenessMs: 60 * 60 * 1000 });
    const [expired] = await expiredEvents(second.store);
    expect(expired?.data).toMatchObject({ dueAt: '2026-06-29T15:30:00.000Z', expiredAt: '2026-06-29T16:30:00.000Z' });
  });

  it('two schedulers on the same log expire every boost exactly once', async () => {
    const dir = tempDir();
    const a = open(dir);
    const b = open(dir); // a second process: its own store connection, handler, clock and read models
    await a.handler.execute('u1', { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: a.clock.now() }, context);
    await a.handler.execute('u2', { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: a.clock.now() }, context);
    for (let i = 0; i < 50; i++) await boost(a.handler, a.clock, i % 2 === 0 ? 'u1' : 'u2', `b${i}`, 1);
    await a.project();
    const otherModels = new SqliteReadModelStore(join(tempDir(), 'readmodels.db'));
    closers.push(() => otherModels.close());
    const rival = new BoostExpiryScheduler({ store: otherModels, handler: b.handler, clock: b.clock });
    await feed(b.store, rival);
    a.clock.advance({ hours: 2 });
    b.clock.advance({ hours: 2 });
    const [fromA, fromB] = await Promise.all([a.scheduler.expireDue(), rival.expireDue()]);
    expect(fromA).toHaveLength(50);
    expect(fromB).toHaveLength(50);
    expect(fromA.filter((o) => o.appended).length + fromB.filter((o) => o.appended).length).toBe(50);
    const expired = await expiredEvents(a.store);
    expect(expired).toHaveLength(50);
    expect(new Set(expired.map((e) => e.data.boostId)).size).toBe(50);
  });

  it("returns the user's visibility, the gig's rank and the clan's reputation to exactly what they were", async () => {
    const { store, models, clock, handler, scheduler, project } = open();
    const services = new ServiceReadModelsProjection(models);
    const projectServices = (): Promise<void> => feed(store, services);
    const read = async () => ({
      user: await services.userVisibility('user123'),
      gig: await services.gig('gig9'),
      clan: await services.clanReputation('clan9'),
    });
    /** What a boost's expiry must restore: scores and active boosts (history counters keep counting). */
    const scores = (r: Awaited<ReturnType<typeof read>>) => ({
      visibility: r.user.visibilityScore,
      userBoosts: r.user.activeBoosts,
      userCredits: r.user.activeBoostCredits,
      rank: r.gig?.rankScore,
      gigBoosts: r.gig?.activeBoosts,
      reputation: r.clan.reputation,
      clanBoosts: r.clan.activeBoosts,
    });
    const activate = async (
      boostId: string,
      targetType: 'profile' | 'gig' | 'clan',
      targetId: string,
      amount: number,
      durationHours: number,
    ) => {
      const result = await handler.execute(
        'fan',
        { type: 'ActivateBoost', boostId, targetType, targetId, amount, durationHours, now: clock.now() },
        context,
      );
      if (!result.ok) throw new Error(result.rejection.code);
    };
    await handler.execute('fan', { type: 'PurchaseCredits', amount: 1000, paymentRef: 'p', now: clock.now() }, context);
    // Earlier, longer boosts and activity that must survive the short boosts' expiry.
    await activate('long-p', 'profile', 'user123', 10, 48);
    await activate('long-g', 'gig', 'gig9', 10, 48);
    await handler.execute(
      'fan',
      { type: 'PayForGig', transferId: 't1', gigId: 'gig9', payeeId: 'seller', amount: 25, now: clock.now() },
      context,
    );
    await handler.execute('fan', { type: 'ContributeToClan', clanId: 'clan9', amount: 40, now: clock.now() }, context);
    await projectServices();
    const before = await read();

    await activate('short-p', 'profile', 'user123', 7, 1);
    await activate('short-g', 'gig', 'gig9', 5, 1);
    await activate('short-c', 'clan', 'clan9', 30, 1);
    await project();
    await projectServices();
    const during = await read();
    expect(during.user.visibilityScore).toBe(before.user.visibilityScore + 7n);
    expect(during.gig?.rankScore).toBe((before.gig?.rankScore ?? 0n) + 100n * 5n);
    expect(during.clan.reputation).toBe(before.clan.reputation + 2n * 30n);

    clock.advance({ hours: 1 });
    expect(await scheduler.expireDue()).toHaveLength(3);
    await projectServices();
    expect(scores(await read())).toEqual(scores(before));
    expect((await read()).user.boostsReceived).toBe(2); // the history still shows both boosts
  });

  it('once started, runs its rounds on a timer: what is already due is expired without being asked', async () => {
    const { store, models, clock, handler, project } = open();
    let resolveExpired: (boostId: string) => void = () => undefined;
    const expired = new Promise<string>((resolve) => (resolveExpired = resolve));
    const timed = new BoostExpiryScheduler({ store: models, handler, clock, onExpired: (o) => resolveExpired(o.boostId) });
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'due-while-down', 1);
    await project();
    clock.advance({ hours: 5 });
    timed.start();
    closers.push(() => timed.stop());
    expect(await expired).toBe('due-while-down');
    expect(await expiredEvents(store)).toHaveLength(1);
  });

  it('after a failed round, steady traffic does not keep postponing the retry', async () => {
    const { store, models, clock, handler } = open();
    let failures = 1;
    const flaky = Object.assign(Object.create(handler) as AccountCommandHandler, {
      execute: (...args: Parameters<AccountCommandHandler['execute']>) =>
        args[1].type === 'ExpireBoost' && failures-- > 0 ? Promise.reject(new Error('store hiccup')) : handler.execute(...args),
    });
    let resolveExpired: (boostId: string) => void = () => undefined;
    const expired = new Promise<string>((resolve) => (resolveExpired = resolve));
    const scheduler = new BoostExpiryScheduler({
      store: models,
      handler: flaky,
      clock,
      onExpired: (o) => resolveExpired(o.boostId),
    });
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'due', 1);
    clock.advance({ hours: 2 });
    const projector = new Projector(store, scheduler);
    projector.start();
    scheduler.start();
    closers.push(
      () => scheduler.stop(),
      () => projector.stop(),
    );
    // Traffic every 20 ms: each batch wakes the scheduler, which must not push its retry back.
    let done = false;
    void expired.then(() => (done = true));
    let sent = 0;
    while (!done && sent < 150) {
      await handler.execute('u2', { type: 'PurchaseCredits', amount: 1, paymentRef: `t${sent++}`, now: clock.now() }, context);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await expired).toBe('due');
    expect(failures).toBe(-1); // it failed once, then went through
    expect(sent).toBeLessThan(100); // expired while the traffic was still flowing
  });

  it('a round that fails waits for the commands it started before it ends (stop finds nothing running)', async () => {
    const { store, clock, handler, models } = open();
    const steps: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated = Object.assign(Object.create(handler) as AccountCommandHandler, {
      execute: async (...args: Parameters<AccountCommandHandler['execute']>) => {
        const command = args[1];
        if (command.type !== 'ExpireBoost') return handler.execute(...args);
        if (command.boostId === 'b0') {
          steps.push('failed');
          throw new Error('boom');
        }
        await gate;
        const result = await handler.execute(...args);
        steps.push('expired');
        return result;
      },
    });
    const scheduler = new BoostExpiryScheduler({ store: models, handler: gated, clock });
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    for (let b = 0; b < 4; b++) await boost(handler, clock, 'u1', `b${b}`, 1);
    await feed(store, scheduler);
    clock.advance({ hours: 2 });
    const round = scheduler.expireDue().then(
      () => 'resolved',
      (error: unknown) => {
        steps.push('round ended');
        return (error as Error).message;
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(steps).toEqual(['failed']); // the other three are still running: the round waits for them
    release();
    expect(await round).toBe('boom');
    expect(steps).toEqual(['failed', 'expired', 'expired', 'expired', 'round ended']);
  });

  it('a round asked for after a stop still runs; a start while a round runs does not start a second one', async () => {
    const { clock, handler, scheduler, project, store, models } = open();
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'after-stop', 1);
    await project();
    clock.advance({ hours: 2 });
    await scheduler.stop();
    expect(await scheduler.expireDue()).toMatchObject([{ boostId: 'after-stop', appended: true }]);

    // One command held open: a stop that is not awaited, then a start, must not send it twice.
    await boost(handler, clock, 'u1', 'held', 1);
    await feed(store, scheduler);
    clock.advance({ hours: 2 });
    let inFlight = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated = Object.assign(Object.create(handler) as AccountCommandHandler, {
      execute: async (...args: Parameters<AccountCommandHandler['execute']>) => {
        if (args[1].type !== 'ExpireBoost') return handler.execute(...args);
        most = Math.max(most, ++inFlight);
        await gate;
        try {
          return await handler.execute(...args);
        } finally {
          inFlight--;
        }
      },
    });
    let resolveFirst: () => void = () => undefined;
    const first = new Promise<void>((resolve) => (resolveFirst = resolve));
    const timed = new BoostExpiryScheduler({ store: models, handler: gated, clock, onExpired: () => resolveFirst() });
    timed.start();
    await vi.waitFor(() => expect(inFlight).toBe(1), { timeout: 5_000, interval: 5 });
    void timed.stop();
    timed.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await first;
    await timed.stop();
    expect(most).toBe(1);
    expect(inFlight).toBe(0);
    expect(await expiredEvents(store)).toHaveLength(2);
  });

  it('a read-model file locked at start (a rebuild in another process) only delays it: warnings, then it expires', async () => {
    const { dir, store, clock, handler } = open();
    const path = join(dir, 'server-readmodels.db');
    const serverModels = new SqliteReadModelStore(path, { lockWaitMs: sqliteReadModelStoreLimits.serverLockWaitMs });
    const rebuildProcess = new Database(path);
    closers.push(
      () => serverModels.close(),
      () => void rebuildProcess.close(),
    );
    await handler.execute('u1', { type: 'PurchaseCredits', amount: 100, paymentRef: 'p', now: clock.now() }, context);
    await boost(handler, clock, 'u1', 'due-while-locked', 1);
    clock.advance({ hours: 5 });
    rebuildProcess.exec('BEGIN IMMEDIATE');
    const logged: { level: 'warn' | 'error'; message: string }[] = [];
    let resolveExpired: (boostId: string) => void = () => undefined;
    const expired = new Promise<string>((resolve) => (resolveExpired = resolve));
    const scheduler = new BoostExpiryScheduler({
      store: serverModels,
      handler,
      clock,
      logger: {
        info: () => undefined,
        warn: (_object, message) => logged.push({ level: 'warn', message }),
        error: (_object, message) => logged.push({ level: 'error', message }),
      },
      onExpired: (outcome) => resolveExpired(outcome.boostId),
    });
    // Locked: the pending set cannot even be created. A failure is not remembered for later calls.
    await expect(scheduler.pendingCount()).rejects.toBeInstanceOf(ReadModelStoreUnavailableError);
    scheduler.start();
    closers.push(() => scheduler.stop());
    await vi.waitFor(() => expect(logged.length).toBeGreaterThan(0), { timeout: 5_000, interval: 10 });
    rebuildProcess.exec('COMMIT');
    // The runtime's projector feeds the pending set once the lock is gone; the timer then expires it.
    await feed(store, scheduler);
    expect(await scheduler.pendingCount()).toBe(1);
    expect(await expired).toBe('due-while-locked');
    expect(await expiredEvents(store)).toHaveLength(1);
    expect(logged.every((entry) => entry.level === 'warn')).toBe(true);
  });

  it('killed with SIGKILL in the middle of a round, then restarted: every boost expired exactly once', async () => {
    const dir = tempDir();
    const { store, clock, handler } = open(dir);
    const users = Array.from({ length: 20 }, (_, u) => `u${u}`);
    await Promise.all(
      users.map(async (u) => {
        await handler.execute(u, { type: 'PurchaseCredits', amount: 10_000, paymentRef: 'p', now: clock.now() }, context);
        for (let b = 0; b < 100; b++) await boost(handler, clock, u, `${u}-b${b}`, 1 + (b % 3));
      }),
    );
    const due = '2026-06-29T17:30:00.000Z';
    const runScheduler = async (killAfter?: number): Promise<{ expired: number; killed: boolean }> => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, '..', 'testing', 'expiryProcess.ts'), dir, due],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let expired = 0;
      let killed = false;
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.startsWith('expired ')) return;
        expired++;
        if (killAfter !== undefined && expired >= killAfter && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
      const [code] = (await once(child, 'exit')) as [number | null];
      if (!killed) expect(code).toBe(0);
      return { expired, killed };
    };
    const first = await runScheduler(200 + Math.floor(Math.random() * 600));
    expect(first.killed).toBe(true);
    await runScheduler(100 + Math.floor(Math.random() * 300));
    const last = await runScheduler();
    expect(last.killed).toBe(false);

    const expired = await readWholeLog(store, 'BoostExpired');
    expect(expired).toHaveLength(2000);
    expect(new Set(expired.map((e) => e.data.boostId)).size).toBe(2000);
    // The last run finished what the killed ones left (they were killed well before the end).
    expect(last.expired).toBeGreaterThan(0);
  }, 120_000);
});
