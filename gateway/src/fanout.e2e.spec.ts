import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { isAccountStream, SqliteEventStore } from '../../ledger/src/index.js';
import { readWholeLog, removeTempDirs, tempDir, until } from '../../ledger/src/testing/index.js';
import { collectQueue, createVhost, hasAll, startProxy, type Received } from '../../projections/src/testing/index.js';
import { bearer, testSecret } from './testing/testApp.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const mainTs = join(import.meta.dirname, 'main.ts');

/** The server as `npm start` runs it, with AMQP_URL set. */
const startServer = async (dataDir: string, amqpUrl: string) => {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', mainTs], {
    env: {
      ...process.env,
      EVENTSTORE_URL: '',
      MONGODB_URL: '',
      AMQP_URL: amqpUrl,
      LEDGER_DATA_DIR: dataDir,
      JWT_SECRET: testSecret,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      const match = /"address":"(http:\/\/[^"]+)"/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr.join('')}`)));
  });
  closers.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  return { child, address, lines };
};

const purchase = (address: string, i: number): Promise<number> =>
  fetch(`${address}/api/credits/purchase`, {
    method: 'POST',
    headers: { ...bearer('payments', ['service']), 'content-type': 'application/json' },
    body: JSON.stringify({ userId: `user-${i % 8}`, amount: 5, paymentRef: `p-${i}` }),
    signal: AbortSignal.timeout(15_000),
  }).then(
    (r) => r.status,
    () => 0,
  );

const ready = async (address: string): Promise<{ status: number; body: { checks: Record<string, string> } }> => {
  const response = await fetch(`${address}/ready`);
  return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
};

/** The pid of the workers process npm start (pid `serverPid`) runs. */
const workersPidOf = (serverPid: number): number => {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(serverPid)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes('workers.ts'));
  if (line === undefined) throw new Error(`no workers process under ${serverPid}: ${out}`);
  return Number(line.trim().split(/\s+/)[0]);
};

/** Waits (bounded) until /ready answers 200: under npm start, the workers process runs and its relay can publish. */
const readyWithin = async (address: string, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while ((await ready(address)).status !== 200) {
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const accountEventIds = async (dataDir: string): Promise<string[]> => {
  const store = new SqliteEventStore({ path: join(dataDir, 'events.db') });
  try {
    return (await readWholeLog(store)).filter((e) => isAccountStream(e.stream)).map((e) => e.id);
  } finally {
    await store.close();
  }
};

/** Every id arrived (repeats allowed, each the same message), and the first arrivals are in log order. */
const expectAllOnceAfterDedupe = (received: readonly Received[], ids: readonly string[]): void => {
  const firsts = new Map<string, Received>();
  for (const r of received) {
    const earlier = firsts.get(r.messageId);
    if (earlier === undefined) firsts.set(r.messageId, r);
    else expect(r.body).toEqual(earlier.body);
  }
  expect([...firsts.keys()]).toEqual(ids);
};

describe('npm start with AMQP_URL (real broker, own vhost)', { timeout: 120_000 }, () => {
  it('broker down at start: the server serves commands, /ready says why, and the relay catches up once the broker is back', async () => {
    const vhost = await createVhost();
    closers.push(() => vhost.remove());
    const placeholder = await startProxy(1);
    const port = placeholder.port;
    await placeholder.close();
    const dataDir = tempDir();
    const { address } = await startServer(dataDir, vhost.url(port));

    const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => purchase(address, i)));
    expect(statuses).toEqual(Array.from({ length: 10 }, () => 201));
    // The relay runs in the workers process, which reports the broker's state about once a second.
    let down = await ready(address);
    const reportDeadline = Date.now() + 30_000;
    while (!/broker unreachable|not connected/.test(down.body.checks.broker ?? '')) {
      expect(down.status).toBe(503);
      expect(Date.now()).toBeLessThan(reportDeadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
      down = await ready(address);
    }
    expect(down.status).toBe(503);
    expect(down.body.checks.eventStore).toBe('ok');

    const proxy = await startProxy(Number(new URL(vhost.url()).port || 5672), port);
    closers.push(() => proxy.close());
    const deadline = Date.now() + 60_000;
    while ((await ready(address)).status !== 200) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ids = await accountEventIds(dataDir);
    expect(ids).toHaveLength(10);
    const received = await collectQueue(vhost.url(), 'user_credit_queue', hasAll(ids), 60_000);
    expectAllOnceAfterDedupe(received, ids);
    // The counters come from the workers' report (about once a second) and the lag from the relay's
    // checkpoint (saved every 100 ms): both follow the delivery, so they are read until they agree (or
    // 10 s have passed, and the assertions below show what /metrics said last).
    const confirmedAll = /^relay_messages_confirmed_total 10$/m;
    const noLag = /^projection_lag_events\{projection="rabbitmq_relay"\} 0$/m;
    let metrics = '';
    await until(
      async () => {
        metrics = await (await fetch(`${address}/metrics`)).text();
        return confirmedAll.test(metrics) && noLag.test(metrics);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    ).catch(() => undefined);
    expect(metrics).toMatch(confirmedAll);
    expect(metrics).toMatch(noLag);
  });

  it('SIGKILL mid-publish, restart: nothing lost, repeats carry the same messageId', async () => {
    const vhost = await createVhost();
    closers.push(() => vhost.remove());
    const dataDir = tempDir();
    const first = await startServer(dataDir, vhost.url());
    await readyWithin(first.address, 60_000); // the workers process has started the relay, which declared the topology
    expect(await purchase(first.address, -1)).toBe(201);
    const requests = Array.from({ length: 300 }, (_, i) => purchase(first.address, i));
    // Kill once the relay is publishing this stream: some messages reached the queue, not all.
    await collectQueue(vhost.url(), 'gig_credit_queue', (received) => received.length >= 20, 60_000);
    // The relay runs in npm start's workers process: kill it (it would otherwise finish its batch and
    // stop cleanly once its parent is gone), then the server.
    const relayPid = workersPidOf(first.child.pid ?? 0);
    process.kill(relayPid, 'SIGKILL');
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    await Promise.all(requests);

    const ids = await accountEventIds(dataDir);
    const second = await startServer(dataDir, vhost.url());
    const received = await collectQueue(vhost.url(), 'user_credit_queue', hasAll(ids), 60_000);
    expectAllOnceAfterDedupe(received, ids);
    const deadline = Date.now() + 30_000;
    while (!second.lines.some((line) => line.includes('relay connected to the broker'))) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
