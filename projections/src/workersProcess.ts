import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { ReportedStatus } from './projectionReads.js';
import type { RelayMetrics } from './fanout/rabbitmq/rabbitMqRelay.js';
import type { ProjectorLogger } from './runtime/subscriber.js';

/** Limits of the supervised workers process, in one place. */
export const workersProcessLimits = {
  /** How often the workers process reports its projectors' statuses to its parent. */
  statusReportIntervalMs: 1000,
  /** First and last pause before starting the workers again after they exited on their own. */
  restartBackoffMsMin: 500,
  restartBackoffMsMax: 10_000,
  /** A workers process that ran this long before exiting restarts after the shortest pause again. */
  restartBackoffResetMs: 60_000,
  /**
   * The workers' scheduling priority (Unix nice, 0 is the parent's): when the cores are busy, the
   * process answering requests runs first and the workers take the slack (they have a second to catch up).
   */
  niceness: 5,
} as const;

/** What the workers process tells the process that started it, over the IPC channel. */
export type WorkersMessage =
  | { readonly type: 'started' }
  | {
      readonly type: 'statuses';
      readonly statuses: readonly ReportedStatus[];
      /** The RabbitMQ relay's counters and availability, when the workers run one. */
      readonly relay?: RelayMetrics | undefined;
    }
  | { readonly type: 'expired'; readonly latenessMs: number };

/** What the parent asks of the workers process over the IPC channel. */
export type WorkersCommand = { readonly type: 'stop' };

export interface WorkersProcess {
  /** The projectors' statuses as last reported (empty until the first report). */
  reported(): readonly ReportedStatus[];
  /** The relay's metrics as last reported (undefined when no relay runs, or before the first report). */
  relay(): RelayMetrics | undefined;
  /** Resolves while the workers process runs; rejects naming its state otherwise (a readiness check). */
  check(): Promise<void>;
  /** Stops the workers process (it finishes the batches in hand) and no longer restarts it. */
  stop(): Promise<void>;
}

/** The workers' entry point: projectors, the settlement reactor and the expiry scheduler, no HTTP. */
export const workersEntry = join(import.meta.dirname, 'cli', 'workers.ts');

/**
 * `npm start`'s second process: runs every worker (`npm run workers`) as a child with an IPC channel,
 * with the parent's runtime flags (tsx) and environment, and starts it again with backoff if it fails
 * (exits other than 0). It shares the process group, so Ctrl-C reaches it directly; it also stops by itself when
 * the parent goes away (the IPC channel closes).
 */
export const startWorkersProcess = (options: {
  logger: ProjectorLogger;
  onExpired?: (latenessMs: number) => void;
  env?: NodeJS.ProcessEnv;
  /** Node's flags for the child; the parent's own by default (`--import tsx` under npm start). */
  execArgv?: readonly string[];
}): WorkersProcess => {
  const log = options.logger;
  let child: ChildProcess | undefined;
  /** Whether the current child said it runs (its signal handlers are installed from then on). */
  let childStarted = false;
  let reported: readonly ReportedStatus[] = [];
  let relay: RelayMetrics | undefined;
  let stopping = false;
  let backoffMs: number = workersProcessLimits.restartBackoffMsMin;
  let restartTimer: NodeJS.Timeout | undefined;

  const spawnWorkers = (): void => {
    const startedMs = performance.now();
    const started = fork(workersEntry, [], {
      execArgv: [...(options.execArgv ?? process.execArgv)],
      env: options.env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = started;
    childStarted = false;
    if (started.pid !== undefined) {
      try {
        setPriority(started.pid, workersProcessLimits.niceness);
      } catch (error) {
        log.warn({ err: error }, 'workers process: could not lower its priority; it competes with the API for the cores');
      }
    }
    started.on('message', (message: WorkersMessage) => {
      if (message.type === 'started') childStarted = true;
      else if (message.type === 'statuses') {
        reported = message.statuses;
        relay = message.relay;
      } else if (message.type === 'expired') options.onExpired?.(message.latenessMs);
    });
    started.on('error', (error) => log.error({ err: error }, 'workers process: could not start or signal it'));
    started.once('exit', (code, signal) => {
      child = undefined;
      reported = [];
      relay = undefined;
      // It exits 0 only when told to stop (a signal to the process group, as Ctrl-C sends): not a crash.
      // Ended by a signal before it ran (one sent to the process group while it was loading): a stop too.
      if (stopping || code === 0 || (!childStarted && signal !== null)) return;
      if (performance.now() - startedMs >= workersProcessLimits.restartBackoffResetMs)
        backoffMs = workersProcessLimits.restartBackoffMsMin;
      log.error({ code, signal, restartInMs: backoffMs }, 'workers process exited on its own; starting it again');
      restartTimer = setTimeout(spawnWorkers, backoffMs);
      backoffMs = Math.min(backoffMs * 2, workersProcessLimits.restartBackoffMsMax);
    });
  };
  spawnWorkers();

  return {
    reported: () => reported,
    relay: () => relay,
    check: () =>
      child !== undefined && child.exitCode === null && child.signalCode === null
        ? Promise.resolve()
        : Promise.reject(new Error('the workers process is not running (restarting)')),
    stop: async () => {
      stopping = true;
      clearTimeout(restartTimer);
      const running = child;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const wasStarted = childStarted;
      const exited = once(running, 'exit');
      // Over IPC rather than a signal: the workers count signals (the third one exits at once), and a
      // Ctrl-C sent to the process group has already reached them.
      // Before it says it runs, it may not listen yet (a message would be lost): a signal, which
      // ends it at once or reaches its handler.
      if (running.connected && wasStarted) running.send({ type: 'stop' } satisfies WorkersCommand);
      else running.kill('SIGTERM');
      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      // A signal to the process group that lands while the workers are still loading ends them before
      // they have done anything: a clean stop too.
      if (code !== 0 && (wasStarted || signal === null))
        throw new Error(`the workers process stopped with ${signal ?? `exit code ${code}`}`);
    },
  };
};
