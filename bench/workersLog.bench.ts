import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AccountCommandHandler, SqliteEventStore, systemClock } from '../ledger/src/index.js';
import { report } from './report.js';

const users = 500;
/** Boosts per second the parent (standing in for the gateway) commits while the workers follow. */
const boostsPerSecond = 2000;
const seconds = 5;
const context = { actor: 'bench', correlationId: 'bench', causationId: 'bench' };

interface Measured {
  readonly cpuUsPerEvent: number;
  /** CPU time per second while the log is quiet (following it costs this even with no traffic). */
  readonly idleCpuUsPerSecond: number;
  readonly events: number;
  readonly stats: unknown;
}

const next = async (child: ChildProcess, type: string): Promise<Record<string, unknown>> => {
  for (;;) {
    const [message] = (await once(child, 'message')) as [Record<string, unknown>];
    if (message.type === type) return message;
  }
};

/** One run: funded users, the workers started and caught up, then a steady stream of boosts they follow live. */
const measure = async (dir: string, share: boolean): Promise<Measured> => {
  const dataDir = mkdtempSync(join(dir, share ? 'shared-' : 'own-'));
  const store = new SqliteEventStore({ path: join(dataDir, 'events.db') });
  const handler = new AccountCommandHandler(store);
  await Promise.all(
    Array.from({ length: users }, (_, u) =>
      handler.execute(
        `u${u}`,
        { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'seed', now: systemClock.now() },
        context,
      ),
    ),
  );
  const child = fork(join(import.meta.dirname, 'workersLogChild.ts'), [], {
    // BENCH_WORKERS_PROFILE_DIR=dir writes a CPU profile of each workers process there.
    execArgv: [
      ...process.execArgv,
      ...(process.env.BENCH_WORKERS_PROFILE_DIR === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_WORKERS_PROFILE_DIR}`]),
    ],
    env: { ...process.env, BENCH_DATA_DIR: dataDir, BENCH_SHARE_LOG: share ? 'on' : 'off' },
  });
  try {
    const { idleCpuUsPerSecond } = await next(child, 'ready');
    const startHead = await store.headPosition();
    child.send({ type: 'mark' });
    await next(child, 'marked');
    // Paced in 10 ms ticks, as requests would arrive.
    const perTick = boostsPerSecond / 100;
    const started = performance.now();
    for (let tick = 0; tick < seconds * 100; tick++) {
      await Promise.all(
        Array.from({ length: perTick }, (_, i) => {
          const u = (tick * perTick + i) % users;
          return handler.execute(
            `u${u}`,
            {
              type: 'ActivateBoost',
              boostId: `b-${tick}-${i}`,
              targetType: 'gig',
              targetId: `g${i % 50}`,
              amount: 1,
              durationHours: 1,
              now: systemClock.now(),
            },
            context,
          );
        }),
      );
      const due = started + (tick + 1) * 10;
      if (performance.now() < due) await sleep(due - performance.now());
    }
    const head = await store.headPosition();
    child.send({ type: 'end', head });
    const done = await next(child, 'done');
    return {
      cpuUsPerEvent: (done.cpuUs as number) / (head - startHead),
      idleCpuUsPerSecond: idleCpuUsPerSecond as number,
      events: head - startHead,
      stats: done.stats,
    };
  } finally {
    if (child.exitCode === null) await once(child, 'exit');
    await store.close();
  }
};

/**
 * The workers process's CPU per event while it follows a live log, with every projector reading the
 * log on its own (a subscription each) and with one shared reader, in the same run.
 */
export const benchWorkersLog = async (dir: string): Promise<void> => {
  console.log(`\n# workers process following a live log: ${boostsPerSecond} boosts/s for ${seconds} s, every projector`);
  const own: Measured[] = [];
  const shared: Measured[] = [];
  // Alternating, twice each, so a noisy moment on the shared machine does not land on one side only.
  for (let round = 0; round < 2; round++) {
    own.push(await measure(dir, false));
    shared.push(await measure(dir, true));
  }
  const best = (runs: Measured[], key: 'cpuUsPerEvent' | 'idleCpuUsPerSecond' = 'cpuUsPerEvent'): number =>
    Math.min(...runs.map((r) => r[key]));
  console.log(
    `  runs (µs/event): own ${own.map((r) => r.cpuUsPerEvent.toFixed(1)).join(', ')}; shared ${shared.map((r) => r.cpuUsPerEvent.toFixed(1)).join(', ')}`,
  );
  console.log(`  shared reader: ${JSON.stringify(shared.at(-1)?.stats)}`);
  const baseline = { name: 'a subscription per projector', value: best(own), unit: 'µs/event' };
  report({ name: 'workers process CPU per event, a subscription per projector', value: best(own), unit: 'µs/event' });
  report({ name: 'workers process CPU per event, one shared log reader', value: best(shared), unit: 'µs/event', baseline });
  const idleBaseline = { name: 'a subscription per projector', value: best(own, 'idleCpuUsPerSecond'), unit: 'µs/s' };
  report({ name: 'workers process CPU on a quiet log, a subscription per projector', value: idleBaseline.value, unit: 'µs/s' });
  report({
    name: 'workers process CPU on a quiet log, one shared log reader',
    value: best(shared, 'idleCpuUsPerSecond'),
    unit: 'µs/s',
    baseline: idleBaseline,
  });
};
