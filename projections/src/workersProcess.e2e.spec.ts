import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../ledger/src/testing/index.js';
import type { ProjectorLogger } from './runtime/subscriber.js';
import { startWorkersProcess } from './workersProcess.js';

afterAll(removeTempDirs);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `condition` holds (bounded: the machine may be slow, the effect is asynchronous). */
const eventually = async (condition: () => Promise<boolean> | boolean, what: string, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await sleep(20);
  }
};

/** This process's children running the workers entry point. */
const workerPids = (): number[] => {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are none
  }
  return out
    .split('\n')
    .filter((line) => line.includes('workers.ts'))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
};

const passes = (check: () => Promise<void>) =>
  check().then(
    () => true,
    () => false,
  );

describe('startWorkersProcess (npm start’s second process)', () => {
  it('runs the workers, hears their statuses, starts them again after a crash, and stops them for good', async () => {
    const errors: string[] = [];
    const logger: ProjectorLogger = {
      info: () => undefined,
      warn: () => undefined,
      error: (_o, message) => errors.push(message),
    };
    const workers = startWorkersProcess({
      logger,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, EVENTSTORE_URL: '', MONGODB_URL: '', AMQP_URL: '', LEDGER_DATA_DIR: tempDir(), LOG_LEVEL: 'silent' },
    });
    try {
      await eventually(() => workers.reported().length === 5, 'a status report for each projection');
      expect(
        workers
          .reported()
          .map((s) => s.name)
          .sort(),
      ).toEqual(['account_balances', 'audit_index', 'boost_expiry', 'gig_payment_settlement', 'service_read_models'].sort());
      expect(await passes(() => workers.check())).toBe(true);
      const [first] = workerPids();
      expect(first).toBeDefined();

      process.kill(first ?? 0, 'SIGKILL');
      await eventually(async () => !(await passes(() => workers.check())), 'the readiness check notices the crash');
      expect(errors).toContain('workers process exited on its own; starting it again');
      await eventually(() => workers.reported().length === 5, 'the restarted workers report again');
      const [second] = workerPids();
      expect(second).toBeDefined();
      expect(second).not.toBe(first);
    } finally {
      await workers.stop();
    }
    expect(workerPids()).toEqual([]);
    expect(await passes(() => workers.check())).toBe(false);
    // Stopped on purpose: not started again.
    await sleep(1500);
    expect(workerPids()).toEqual([]);
  }, 180_000);
});
