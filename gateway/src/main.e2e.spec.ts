import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../ledger/src/index.js';
import { readWholeLog, removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import { bearer, testSecret } from './testing/testApp.js';

afterAll(removeTempDirs);

/** These tests check the embedded default's files: a production URL in the environment must not leak in. */
const embeddedOnly = { EVENTSTORE_URL: '', MONGODB_URL: '', AMQP_URL: '' };

/** The server as `npm start` runs it (`viaNpm`: through npm itself, which must hand signals on), or node directly. */
const startMain = async (env: Record<string, string>, viaNpm = false, detached = false) => {
  const options = {
    env: { ...process.env, ...embeddedOnly, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'],
    detached,
  };
  const child = viaNpm
    ? spawn('npm', ['start', '--silent'], { ...options, cwd: join(import.meta.dirname, '..', '..') })
    : spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts')], options);
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
  return { child, address, lines, stderr };
};

describe('npm start (gateway/src/main.ts)', () => {
  it('finishes the requests in flight on SIGTERM sent to npm start, flushes them to disk, and exits 0', async () => {
    const dataDir = tempDir();
    // Signalled as a supervisor would: the npm process, which must hand SIGTERM on to the server.
    const { child, address, lines } = await startMain({ LEDGER_DATA_DIR: dataDir, JWT_SECRET: testSecret }, true);
    const purchase = (i: number) =>
      fetch(`${address}/api/credits/purchase`, {
        method: 'POST',
        headers: { ...bearer('payments', ['service']), 'content-type': 'application/json' },
        body: JSON.stringify({ userId: `user-${i % 8}`, amount: 5, paymentRef: `p-${i}` }),
        signal: AbortSignal.timeout(10_000),
      }).then(
        (r) => r.status,
        () => 'refused',
      );
    expect(await purchase(-1)).toBe(201); // warm: the next ones are processed, not compiled
    const incoming = (): number => lines.filter((l) => l.includes('incoming request')).length;
    const before = incoming();
    const requests = Array.from({ length: 40 }, (_, i) => purchase(i));
    // SIGTERM while the server is in the middle of them: some arrived, not all answered.
    while (incoming() < before + 10) await new Promise((resolve) => setTimeout(resolve, 1));
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    const statuses = await Promise.all(requests);
    expect(code).toBe(0);
    expect(lines.some((l) => l.includes('stopped cleanly'))).toBe(true);
    // Every request completed (201), was turned away because the server was closing (Fastify's 503
    // on a kept-alive connection), or never got in; none was cut off half-way.
    for (const status of statuses) expect([201, 503, 'refused']).toContain(status);
    expect(statuses).toContain(201);
    const answered = statuses.filter((s) => s === 201).length;
    const store = new SqliteEventStore({ path: join(dataDir, 'events.db') });
    const appended = (await readWholeLog(store)).length;
    await store.close();
    expect(appended).toBe(answered + 1); // and the warm-up purchase
  });

  it('refuses to start in production without a JWT secret', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts')], {
      env: { ...process.env, ...embeddedOnly, NODE_ENV: 'production', JWT_SECRET: '', PORT: '0', LEDGER_DATA_DIR: tempDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/JWT_SECRET/);
  });

  it('shuts down cleanly when the signal goes to the whole process group (Ctrl-C, systemd), npm and server alike', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      // Its own process group, as a terminal or a service manager runs it: the server gets the
      // signal twice, from the group and from npm passing it on.
      const { child, lines } = await startMain({ LEDGER_DATA_DIR: tempDir(), JWT_SECRET: testSecret }, true, true);
      const exited = once(child, 'exit');
      process.kill(-(child.pid ?? 0), signal);
      const [code] = await exited;
      expect(code, signal).toBe(0);
      expect(
        lines.some((l) => l.includes('stopped cleanly')),
        signal,
      ).toBe(true);
    }
  });

  it('says in one line which port is taken, and exits 1', async () => {
    const { child, address } = await startMain({ LEDGER_DATA_DIR: tempDir(), JWT_SECRET: testSecret });
    try {
      const port = new URL(address).port;
      const second = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'main.ts')], {
        env: {
          ...process.env,
          ...embeddedOnly,
          PORT: port,
          HOST: '127.0.0.1',
          JWT_SECRET: testSecret,
          LEDGER_DATA_DIR: tempDir(),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      second.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = await once(second, 'exit');
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(`credit ledger: port ${port} on 127.0.0.1 is in use: stop what holds it, or set PORT`);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
