import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { benchLedger, cleanDir } from './ledger.bench.js';
import { writeResults } from './report.js';

/**
 * `npm run bench`: every figure with its same-run baseline. Not part of the tests: timings vary
 * with the machine, ratios much less. Data goes to a scratch directory on the same disk as ./data.
 */
const root = join(process.cwd(), 'data', 'bench');
mkdirSync(root, { recursive: true });
const dir = mkdtempSync(join(root, 'run-'));
try {
  console.log(`bench: node ${process.version}, scratch ${dir}`);
  await benchLedger(dir);
  console.log(`\nwrote ${writeResults()}`);
} finally {
  cleanDir(dir);
}
