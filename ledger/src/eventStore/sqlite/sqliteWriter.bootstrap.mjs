// Starts a worker thread of the embedded store from TypeScript sources (npm start, tests): registers tsx in this thread,
// then loads the real worker module. Compiled builds load sqliteWriter.worker.js directly.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
