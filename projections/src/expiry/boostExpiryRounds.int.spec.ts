// The scheduler's rounds: on a timer, stopped and started, after a failed round, on a locked read-model
// file, after a restart and after SIGKILL mid-round. What it expires and when: boostExpiryScheduler.int.spec.ts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AccountCommandHandler } from '../../../ledger/src/index.js';
import { closersAfterEach, readWholeLog, tempDir } from '../../../ledger/src/testing/index.js';
import { ReadModelStoreUnavailableError } from '../readModels/errors.js';
import { SqliteReadModelStore, sqliteReadModelStoreLimits } from '../readModels/sqliteReadModelStore.js';
import { Projector } from '../runtime/projector.js';
import { activateBoost as boost, boostEach, expiredEvents, openBoostExpiry } from '../testing/boostExpiry.js';
import { feed } from '../testing/feed.js';
import { testContext as context } from '../testing/ledgerWithReadModels.js';
import { BoostExpiryScheduler, expiryLimits } from './boostExpiryScheduler.js';

const closers = closersAfterEach(afterEach);
const open = (dir?: string) => openBoostExpiry(closers, dir);

describe('boost expiry', () => {
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
