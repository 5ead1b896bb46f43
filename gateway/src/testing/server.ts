import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { testSecret } from './testApp.js';

/** No external engine: the embedded log and read models, whatever the environment running the tests says. */
export const embeddedOnly = { EVENTSTORE_URL: '', MONGODB_URL: '', AMQP_URL: '' };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RunningServer {
  /** The `main.ts` process. */
  readonly main: ChildProcessByStdio<null, Readable, null>;
  /** Where it listens, as it logged it (`http://127.0.0.1:<port>`). */
  readonly address: string;
  /** Sends SIGTERM and resolves with the exit code once it has exited. */
  stop(): Promise<number | null>;
}

/**
 * The server as `npm start` runs it (gateway/src/main.ts, the workers in a process of their own) on the
 * embedded engine in `dataDir`, listening on a free port; resolves once it logged where it listens
 * (within 60 s, or it is killed and this rejects).
 */
export const startServer = async (dataDir: string): Promise<RunningServer> => {
  const main = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'main.ts')], {
    env: {
      ...process.env,
      ...embeddedOnly,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info', // the line naming the address is at info
      LEDGER_DATA_DIR: dataDir,
      JWT_SECRET: testSecret,
      LEDGER_WORKERS: 'process',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: main.stdout }).on('line', (line) => {
      const match = /"address":"(http:\/\/[^"]+)"/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    main.once('exit', (code) => reject(new Error(`main exited with ${code}`)));
    setTimeout(() => reject(new Error('main never said where it listens')), 60_000).unref();
  }).catch((error: unknown) => {
    main.kill('SIGKILL');
    throw error;
  });
  return {
    main,
    address,
    stop: async () => {
      const exited = once(main, 'exit');
      main.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
};
