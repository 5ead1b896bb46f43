import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Starts a worker module of this folder, whether we run from TypeScript sources or compiled output. */
export const startWorker = (
  name: 'sqliteWriter' | 'sqliteCheckpointer' | 'sqliteLogReader',
  data: Record<string, unknown>,
  options: Omit<WorkerOptions, 'workerData'> = {},
): Worker => {
  if (import.meta.url.endsWith('.ts')) {
    // From sources (npm start, tests): a tiny JavaScript bootstrap registers tsx in the new thread.
    const entry = new URL(`./${name}.worker.ts`, import.meta.url).href;
    return new Worker(new URL('./sqliteWriter.bootstrap.mjs', import.meta.url), { ...options, workerData: { ...data, entry } });
  }
  return new Worker(new URL(`./${name}.worker.js`, import.meta.url), { ...options, workerData: data });
};
