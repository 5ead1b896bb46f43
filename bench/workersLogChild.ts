import { join } from 'node:path';
import { AccountCommandHandler, SqliteEventStore, systemClock } from '../ledger/src/index.js';
import { SqliteReadModelStore, startWorkers } from '../projections/src/index.js';

/**
 * The workers of `npm run workers` (every projector, the settlement reactor, the expiry scheduler) in a
 * process of their own, for bench/workersLog.bench.ts: reports its CPU time between the parent's
 * `mark` and the moment every projector has folded the log up to the parent's `end` head.
 */
const dataDir = process.env.BENCH_DATA_DIR ?? '';
const share = process.env.BENCH_SHARE_LOG === 'on';
const store = new SqliteEventStore({ path: join(dataDir, 'events.db') });
const readModels = new SqliteReadModelStore(join(dataDir, 'readmodels.db'));
const handler = new AccountCommandHandler(store);
const workers = await startWorkers({ store, readModels, handler, clock: systemClock, shareLogReads: share });
const caughtUp = (head: number): Promise<unknown> => Promise.all(workers.projectors.map((p) => p.waitFor(head, 120_000)));
await caughtUp(await store.headPosition());
// A quiet log first: what following it costs when nothing happens (the pollers alone).
const idleMs = 3000;
await new Promise((resolve) => setTimeout(resolve, 2000)); // past the catch-up's aftermath (collection, compilation)
const cpuAtIdle = process.cpuUsage();
await new Promise((resolve) => setTimeout(resolve, idleMs));
const idle = process.cpuUsage(cpuAtIdle);
let cpuAtMark: NodeJS.CpuUsage | undefined;
process.on('message', (message: { type: 'mark' } | { type: 'end'; head: number }) => {
  if (message.type === 'mark') {
    cpuAtMark = process.cpuUsage();
    process.send?.({ type: 'marked' });
    return;
  }
  void caughtUp(message.head).then(async () => {
    const cpu = process.cpuUsage(cpuAtMark);
    process.send?.({ type: 'done', cpuUs: cpu.user + cpu.system, stats: workers.sharedLog?.stats() });
    await workers.stop();
    await store.close();
    process.disconnect();
  });
});
process.send?.({ type: 'ready', idleCpuUsPerSecond: ((idle.user + idle.system) * 1000) / idleMs });
