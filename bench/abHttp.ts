import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createSigner } from 'fast-jwt';
import { runLoad, secret, users } from './http.bench.js';

/**
 * `npx tsx bench/abHttp.ts <checkout A> <checkout B> [rounds]`: the boost route of two checkouts (say,
 * before and after a refactor), each served by its own `bench/httpServer.ts ledger`, loaded in short
 * alternating slices (A B, B A, A B, …) so both see the same machine. On a shared VM whose speed swings
 * by 2 × from one minute to the next, runs minutes apart cannot show a 5 % difference; paired slices
 * seconds apart can. Prints each pair and the median ratio B / A of CPU per request and of throughput.
 * AB_ENV_A / AB_ENV_B add environment to one server (`AB_ENV_B=BENCH_WRITER=thread`, same checkout twice).
 */
const [treeA, treeB] = process.argv.slice(2, 4).map((tree) => resolve(tree ?? ''));
const rounds = Number(process.argv[4] ?? 12);
const sliceSeconds = 3;
if (treeA === undefined || treeB === undefined || process.argv.length < 4) {
  console.error('usage: npx tsx bench/abHttp.ts <checkout A> <checkout B> [rounds]');
  process.exit(2);
}

/** Funds the users through the checkout's own ledger code, so each server reads a log it wrote itself. */
const seed = (tree: string, dataDir: string): void => {
  const script = join(tree, 'bench', `.abSeed-${process.pid}.ts`);
  writeFileSync(
    script,
    `import { DateTime } from 'luxon';
import { join } from 'node:path';
import { AccountCommandHandler } from '../ledger/src/commandHandling/accountCommandHandler.js';
import { SqliteEventStore } from '../ledger/src/eventStore/sqlite/sqliteEventStore.js';
const store = new SqliteEventStore({ path: join(${JSON.stringify(dataDir)}, 'events.db') });
const handler = new AccountCommandHandler(store);
const now = DateTime.utc();
await Promise.all(Array.from({ length: ${users} }, (_, u) => handler.execute('bench-' + u,
  { type: 'PurchaseCredits', amount: 1_000_000, paymentRef: 'seed', now },
  { actor: 'bench', correlationId: 'seed', causationId: 'seed' })));
await store.close();
`,
  );
  try {
    execFileSync('node', ['--import', 'tsx', script], { cwd: tree, stdio: 'inherit' });
  } finally {
    rmSync(script);
  }
};

const envOf = (setting: string | undefined): Record<string, string> =>
  Object.fromEntries(
    (setting ?? '')
      .split(',')
      .filter((pair) => pair.includes('='))
      .map((pair) => pair.split('=', 2) as [string, string]),
  );

const start = async (
  tree: string,
  dataDir: string,
  extraEnv: Record<string, string>,
): Promise<{ child: ChildProcess; address: string }> => {
  const child = fork(join(tree, 'bench', 'httpServer.ts'), ['ledger'], {
    cwd: tree,
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      JWT_SECRET: secret,
      LEDGER_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_USER_PER_MINUTE: '0',
      NODE_ENV: 'production',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [message] = (await once(child, 'message')) as [{ address: string }];
  return { child, address: message.address };
};

const cpuUs = async (child: ChildProcess): Promise<number> => {
  const answer = once(child, 'message') as Promise<[{ cpu: NodeJS.CpuUsage }]>;
  child.send('cpu');
  const [{ cpu }] = await answer;
  return cpu.user + cpu.system;
};

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
};

const scratch = mkdtempSync(join(tmpdir(), 'ab-http-'));
const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3_600_000 });
const tokens = Array.from({ length: users }, (_, u) => `Bearer ${sign({ sub: `bench-${u}`, roles: ['user'] })}`);
const servers: { child: ChildProcess; address: string }[] = [];
try {
  for (const [i, tree] of [treeA, treeB].entries()) {
    const dataDir = mkdtempSync(join(scratch, `data-${i}-`));
    seed(tree, dataDir);
    servers.push(await start(tree, dataDir, envOf(i === 0 ? process.env.AB_ENV_A : process.env.AB_ENV_B)));
  }
  const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
  const slice = async (server: typeof a): Promise<{ cpu: number; rate: number }> => {
    const before = await cpuUs(server.child);
    const load = await runLoad(scratch, server.address, tokens, sliceSeconds);
    const used = (await cpuUs(server.child)) - before;
    if (load.failed > 0) throw new Error(`${load.failed} requests not answered 201`);
    return { cpu: used / Math.max(1, load.ok), rate: load.ok / load.seconds };
  };
  await slice(a);
  await slice(b);
  const cpuRatios: number[] = [];
  const rateRatios: number[] = [];
  console.log(`A ${treeA}\nB ${treeB}\nround  A µs/req  B µs/req  B/A cpu   A req/s  B req/s  B/A rate`);
  for (let round = 0; round < rounds; round++) {
    const [first, second] = round % 2 === 0 ? [a, b] : [b, a];
    const x = await slice(first);
    const y = await slice(second);
    const [ra, rb] = round % 2 === 0 ? [x, y] : [y, x];
    cpuRatios.push(rb.cpu / ra.cpu);
    rateRatios.push(rb.rate / ra.rate);
    console.log(
      `${String(round + 1).padStart(5)}  ${ra.cpu.toFixed(0).padStart(8)}  ${rb.cpu.toFixed(0).padStart(8)}  ${(rb.cpu / ra.cpu).toFixed(3).padStart(8)}  ${ra.rate.toFixed(0).padStart(7)}  ${rb.rate.toFixed(0).padStart(7)}  ${(rb.rate / ra.rate).toFixed(3).padStart(8)}`,
    );
  }
  console.log(`median B/A: CPU per request ${median(cpuRatios).toFixed(3)}, throughput ${median(rateRatios).toFixed(3)}`);
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
  await Promise.all(servers.filter((server) => server.child.exitCode === null).map((server) => once(server.child, 'exit')));
  rmSync(scratch, { recursive: true, force: true });
}
