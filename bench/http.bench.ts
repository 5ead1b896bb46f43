import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createSigner } from 'fast-jwt';
import { DateTime } from 'luxon';
import { AccountCommandHandler, msPerHour, SqliteEventStore } from '../ledger/src/index.js';
import { report } from './report.js';

export const secret = 'bench-secret-bench-secret-bench-secret-0123';
export const connections = 64;
export const warmupSeconds = 3;
export const durationSeconds = 10;
/** Each user may hold 100 active boosts; spread the load so none runs out during the run. */
export const users = 4000;
const path = '/api/credits/boost/profile';

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export const startServer = async (
  mode: 'bare' | 'ledger',
  dataDir: string,
): Promise<{ child: ChildProcess; address: string }> => {
  const profile = process.env.BENCH_PROFILE_DIR;
  const child = fork(join(import.meta.dirname, 'httpServer.ts'), [mode], {
    execArgv: ['--import', 'tsx', ...(profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profile}`])],
    env: {
      ...process.env,
      JWT_SECRET: secret,
      LEDGER_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_USER_PER_MINUTE: '0',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ address: string }];
  return { child, address: message.address };
};

/** The server process's CPU time (user + system) so far, in µs. */
const serverCpu = async (child: ChildProcess): Promise<number> => {
  const answer = once(child, 'message') as Promise<[{ cpu: NodeJS.CpuUsage }]>;
  child.send('cpu');
  const [{ cpu }] = await answer;
  return cpu.user + cpu.system;
};

/** A measured run with the server's CPU time per answered request. */
const measure = async (
  dir: string,
  server: { child: ChildProcess; address: string },
  tokens: readonly string[],
): Promise<LoadResult & { cpuPerRequestUs: number }> => {
  const before = await serverCpu(server.child);
  const result = await runLoad(dir, server.address, tokens, durationSeconds);
  const used = (await serverCpu(server.child)) - before;
  return { ...result, cpuPerRequestUs: used / Math.max(1, result.ok + result.failed) };
};

export const stop = async (child: ChildProcess): Promise<void> => {
  child.kill('SIGTERM');
  if (child.exitCode === null) await once(child, 'exit');
};

export const hasWrk = (): boolean => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk prints its version and exits 1; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
};

/**
 * wrk (C, one thread) when installed — it costs the 2-core machine far less CPU than a JavaScript
 * load generator, so more of the machine measures the server — else autocannon. Each request rotates
 * through the users' tokens, as real traffic from many users would.
 */
export const runLoad = async (dir: string, address: string, tokens: readonly string[], seconds: number): Promise<LoadResult> => {
  const body = JSON.stringify({ targetUserId: 'target-1', amount: 1, duration: 24 });
  const bodyHead = JSON.stringify(body.slice(0, body.indexOf('target-1') + 'target-'.length));
  const bodyTail = JSON.stringify(body.slice(body.indexOf('target-1') + 'target-1'.length));
  if (hasWrk()) {
    const tokensFile = join(dir, 'tokens.txt');
    const script = join(dir, 'boost.lua');
    writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
    writeFileSync(
      script,
      `local tokens = {}
for line in io.lines(${JSON.stringify(tokensFile)}) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", ${JSON.stringify(path)}, { ["Content-Type"] = "application/json", ["Authorization"] = tokens[(i % #tokens) + 1] }, ${bodyHead} .. (i % 1000) .. ${bodyTail})
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %.3f %.3f %.3f\\n", summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
`,
    );
    const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, address], {
      encoding: 'utf8',
    });
    const fields = /RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)/.exec(out);
    if (fields === null) throw new Error(`unexpected wrk output: ${out}`);
    const [requests, non2xx, socketErrors, micros, p50, p99, max] = fields.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return { ok: requests - non2xx, failed: non2xx + socketErrors, seconds: micros / 1e6, p50Ms: p50, p99Ms: p99, maxMs: max };
  }
  let next = 0;
  const result = await autocannon({
    url: `${address}${path}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => ({
          ...request,
          headers: { 'content-type': 'application/json', authorization: tokens[next++ % tokens.length] ?? '' },
          body,
        }),
      },
    ],
  });
  return {
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
    seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
  };
};

export const benchHttp = async (dir: string): Promise<void> => {
  const generator = hasWrk() ? 'wrk' : 'autocannon (install wrk for a lighter load generator)';
  console.log(
    `\n# gateway: boosts over HTTP, ${connections} connections, ${warmupSeconds} s warm-up then ${durationSeconds} s, load by ${generator}`,
  );
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: msPerHour });
  const tokens = Array.from({ length: users }, (_, u) => `Bearer ${sign({ sub: `bench-${u}`, roles: ['user'] })}`);

  // Baseline: a bare Fastify route with the same path, request and answer size, on this machine, now.
  const bare = await startServer('bare', dir);
  await runLoad(dir, bare.address, tokens, warmupSeconds);
  const bareResult = await measure(dir, bare, tokens);
  await stop(bare.child);
  const bareRate = bareResult.ok / bareResult.seconds;
  report({ name: 'bare Fastify route, same request and answer', value: bareRate, unit: 'requests/s' });
  report({ name: 'bare route latency p99', value: bareResult.p99Ms, unit: 'ms' });
  report({ name: 'bare route server CPU per request', value: bareResult.cpuPerRequestUs, unit: 'µs' });

  // Seed users with credits through the ledger itself, then hand the file to the server.
  const store = new SqliteEventStore({ path: join(dir, 'events.db') });
  const handler = new AccountCommandHandler(store);
  const now = DateTime.utc();
  await Promise.all(
    Array.from({ length: users }, (_, u) =>
      handler.execute(
        `bench-${u}`,
        { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'seed', now },
        { actor: 'bench', correlationId: 'seed', causationId: 'seed' },
      ),
    ),
  );
  await store.close();

  const ledger = await startServer('ledger', dir);
  await runLoad(dir, ledger.address, tokens, warmupSeconds);
  const result = await measure(dir, ledger, tokens);
  await stop(ledger.child);

  const boostsPerSecond = result.ok / result.seconds;
  report({
    name: 'gateway alone (bench/httpServer.ts, no workers): boosts/s over HTTP (201s)',
    value: boostsPerSecond,
    unit: 'boosts/s',
    baseline: { name: 'bare route', value: bareRate, unit: 'requests/s' },
    target: '≥ 8,000/s and ≥ 0.35 × bare',
    pass: boostsPerSecond >= 8000 && boostsPerSecond / bareRate >= 0.35,
  });
  report({
    name: 'boost server CPU per request',
    value: result.cpuPerRequestUs,
    unit: 'µs',
    baseline: { name: 'bare route', value: bareResult.cpuPerRequestUs, unit: 'µs' },
  });
  report({ name: 'gateway alone: boost latency p50', value: result.p50Ms, unit: 'ms' });
  report({ name: 'gateway alone: boost latency p99', value: result.p99Ms, unit: 'ms' });
  report({ name: 'gateway alone: boost latency max', value: result.maxMs, unit: 'ms' });
  report({ name: 'gateway alone: boost requests not answered 201', value: result.failed, unit: 'requests' });
};
