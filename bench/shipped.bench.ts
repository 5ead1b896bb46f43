import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSigner } from 'fast-jwt';
import { DateTime } from 'luxon';
import { AccountCommandHandler, SqliteEventStore } from '../ledger/src/index.js';
import {
  connections,
  durationSeconds,
  runLoad,
  secret,
  startServer,
  stop,
  warmupSeconds,
  type LoadResult,
} from './http.bench.js';
import { report } from './report.js';

/** Funded users sending boosts (the issue asks for 2,000–4,000), each with a token of its own. */
export const shippedUsers = 3000;
/** Every read model must be level with the log this soon after the load stops. */
const caughtUpWithinMs = 1000;
/** How long the server may take to start and to fold the seed before the run. */
export const startTimeoutMs = 60_000;
const repositoryRoot = join(import.meta.dirname, '..');

/**
 * Where `npm start` runs its workers: `process` (what ships), `inline` (on the event loop that answers HTTP)
 * or `none` (the gateway alone, `npm run gateway`: what the HTTP process costs without any worker beside it).
 */
type WorkersMode = 'process' | 'inline' | 'none';

const freePort = async (): Promise<number> => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
};

/** `npm start`, as a user runs it (its own process group, so a signal reaches npm and the server alike). */
export const startShipped = async (
  dataDir: string,
  workers: WorkersMode,
  extraEnv: Record<string, string> = {},
): Promise<{ child: ChildProcess; address: string }> => {
  const port = await freePort();
  // BENCH_PROFILE_DIR: the same server, started the way `npm start` does, with --cpu-prof (its workers process inherits it).
  const profile = process.env.BENCH_PROFILE_DIR;
  const [command, args] =
    profile === undefined
      ? ['npm', ['start']]
      : ['node', ['--cpu-prof', `--cpu-prof-dir=${profile}`, '--import', 'tsx', 'gateway/src/main.ts']];
  const child = spawn(command, args, {
    cwd: repositoryRoot,
    detached: true,
    env: {
      ...process.env,
      JWT_SECRET: secret,
      LEDGER_DATA_DIR: dataDir,
      LEDGER_WORKERS: workers,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_USER_PER_MINUTE: '0',
      NODE_ENV: 'production',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const address = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
    if (performance.now() > deadline) throw new Error('npm start did not answer /health in time');
    try {
      if ((await fetch(`${address}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  return { child, address };
};

export const stopShipped = async (child: ChildProcess): Promise<void> => {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(-child.pid, 'SIGTERM');
  await exited;
};

/**
 * The Prometheus text of the server's /metrics (reading it also resets the event-loop delay histogram),
 * on a connection of its own: a kept-alive one may be closed by the server's keepAliveTimeout while
 * the load runs, and a request sent as it closes fails with "other side closed".
 */
const scrape = async (address: string): Promise<string> =>
  (await fetch(`${address}/metrics`, { headers: { connection: 'close' } })).text();

const gauge = (metrics: string, name: string): number => {
  const line = new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(metrics);
  if (line === null) throw new Error(`${name} is not in /metrics`);
  return Number(line[1]);
};

/** Events each projection (read models and reactors) is behind the log, from /metrics. */
const projectionLags = (metrics: string): number[] =>
  [...metrics.matchAll(/^projection_lag_events\{projection="[^"]+"\} (\d+)$/gm)].map((m) => Number(m[1]));

/** Milliseconds until every projection is level with the log (Infinity if not within `boundMs` × 10). */
export const timeToCaughtUp = async (address: string, boundMs: number): Promise<number> => {
  const started = performance.now();
  let lags: number[] = [];
  while (performance.now() - started < boundMs * 10) {
    lags = projectionLags(await scrape(address));
    if (lags.length > 0 && lags.every((lag) => lag === 0)) return performance.now() - started;
    await sleep(10);
  }
  console.log(`  still behind after ${boundMs * 10} ms: ${lags.join(', ')} events`);
  return Number.POSITIVE_INFINITY;
};

/** Funded users, written through the ledger itself before the server opens the files. */
export const seed = async (dataDir: string): Promise<void> => {
  const store = new SqliteEventStore({ path: join(dataDir, 'events.db') });
  const handler = new AccountCommandHandler(store);
  const now = DateTime.utc();
  await Promise.all(
    Array.from({ length: shippedUsers }, (_, u) =>
      handler.execute(
        `bench-${u}`,
        { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'seed', now },
        { actor: 'bench', correlationId: 'seed', causationId: 'seed' },
      ),
    ),
  );
  await store.close();
};

interface ShippedResult extends LoadResult {
  /** CPU time (user + system) the HTTP process spent per answered request during the run. */
  readonly cpuPerRequestUs: number;
  readonly eventLoopLagP99Ms: number;
  readonly eventLoopLagMaxMs: number;
  readonly caughtUpMs: number;
}

const runShipped = async (dir: string, workers: WorkersMode, tokens: readonly string[]): Promise<ShippedResult> => {
  const dataDir = mkdtempSync(join(dir, `shipped-${workers}-`));
  await seed(dataDir);
  const server = await startShipped(dataDir, workers);
  try {
    if (workers !== 'none' && (await timeToCaughtUp(server.address, startTimeoutMs / 10)) === Number.POSITIVE_INFINITY) {
      throw new Error('the read models did not fold the seed');
    }
    await runLoad(dir, server.address, tokens, warmupSeconds);
    // Resets the event-loop delay histogram: what follows is the run alone.
    const cpuBefore = gauge(await scrape(server.address), 'process_cpu_seconds_total');
    const load = await runLoad(dir, server.address, tokens, durationSeconds);
    const metrics = await scrape(server.address);
    const cpuSeconds = gauge(metrics, 'process_cpu_seconds_total') - cpuBefore;
    const caughtUpMs = workers === 'none' ? 0 : await timeToCaughtUp(server.address, caughtUpWithinMs);
    return {
      ...load,
      cpuPerRequestUs: (cpuSeconds * 1e6) / Math.max(1, load.ok + load.failed),
      eventLoopLagP99Ms: gauge(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000,
      eventLoopLagMaxMs: gauge(metrics, 'nodejs_eventloop_lag_max_seconds') * 1000,
      caughtUpMs,
    };
  } finally {
    await stopShipped(server.child);
  }
};

/**
 * `npm start` as it ships (every projector, the settlement reactor and the expiry scheduler running)
 * under boosts from `shippedUsers` funded users, against a bare Fastify route in the same run. The
 * workers' placement the server does not ship (on the HTTP event loop) runs too, as a comparison.
 */
export const benchShipped = async (dir: string): Promise<void> => {
  console.log(
    `\n# npm start (every worker on): boosts over HTTP from ${shippedUsers} users, ${connections} connections, ${warmupSeconds} s warm-up then ${durationSeconds} s`,
  );
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3_600_000 });
  const tokens = Array.from({ length: shippedUsers }, (_, u) => `Bearer ${sign({ sub: `bench-${u}`, roles: ['user'] })}`);

  const bare = await startServer('bare', dir);
  await runLoad(dir, bare.address, tokens, warmupSeconds);
  const bareResult = await runLoad(dir, bare.address, tokens, durationSeconds);
  await stop(bare.child);
  const bareRate = bareResult.ok / bareResult.seconds;
  const baseline = { name: 'bare route', value: bareRate, unit: 'requests/s' };
  report({ name: 'npm start: bare Fastify route, same request and answer', value: bareRate, unit: 'requests/s' });

  // BENCH_SHIPPED_WORKERS=process,none,… picks the placements (and repeats) to run.
  const modes = (process.env.BENCH_SHIPPED_WORKERS ?? 'process,inline').split(',') as WorkersMode[];
  for (const mode of modes) {
    const shipped = mode === 'process';
    const label = shipped ? 'npm start' : `npm start, LEDGER_WORKERS=${mode}`;
    const result = await runShipped(dir, mode, tokens);
    const rate = result.ok / result.seconds;
    report({
      name: `${label}: boosts/s (201s)`,
      value: rate,
      unit: 'boosts/s',
      baseline,
      ...(shipped ? { target: '≥ 0.35 × bare', pass: rate / bareRate >= 0.35 } : {}),
    });
    report({ name: `${label}: boost latency p50`, value: result.p50Ms, unit: 'ms' });
    report({
      name: `${label}: boost latency p99`,
      value: result.p99Ms,
      unit: 'ms',
      baseline: { name: 'bare route p99', value: bareResult.p99Ms, unit: 'ms' },
      ...(shipped ? { target: '≤ 25 ms', pass: result.p99Ms <= 25 } : {}),
    });
    report({ name: `${label}: boost latency max`, value: result.maxMs, unit: 'ms' });
    report({ name: `${label}: CPU of the HTTP process per request`, value: result.cpuPerRequestUs, unit: 'µs' });
    report({ name: `${label}: event-loop lag p99 of the HTTP process`, value: result.eventLoopLagP99Ms, unit: 'ms' });
    report({ name: `${label}: event-loop lag max of the HTTP process`, value: result.eventLoopLagMaxMs, unit: 'ms' });
    report({
      name: `${label}: every read model level with the log after the run`,
      value: result.caughtUpMs,
      unit: 'ms',
      target: `≤ ${caughtUpWithinMs} ms`,
      pass: result.caughtUpMs <= caughtUpWithinMs,
    });
    report({ name: `${label}: boost requests not answered 201`, value: result.failed, unit: 'requests' });
  }
};
