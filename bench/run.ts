import { mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { benchAudit } from './audit.bench.js';
import { benchExpiry } from './expiry.bench.js';
import { benchFanout } from './fanout.bench.js';
import { benchHttp } from './http.bench.js';
import { benchShipped } from './shipped.bench.js';
import { benchWorkersLog } from './workersLog.bench.js';
import { benchProjections } from './projections.bench.js';
import { benchLedger, cleanDir } from './ledger.bench.js';
import { writeResults } from './report.js';

/**
 * `npm run bench`: every figure with its same-run baseline. Not part of the tests: timings vary
 * with the machine, ratios much less. Data goes to a scratch directory on the same disk as ./data.
 * `npm run bench -- ledger`, `-- shipped`, `-- http`, `-- projections`, `-- expiry`, `-- audit`, `-- workers-log` or `-- fanout` (needs RabbitMQ) runs one part.
 */
const root = join(process.cwd(), 'data', 'bench');
mkdirSync(root, { recursive: true });
const dir = mkdtempSync(join(root, 'run-'));
try {
  console.log(`bench: node ${process.version}, scratch ${dir}`);
  const only = process.argv[2];
  if (only === undefined || only === 'ledger') await benchLedger(mkdtempSync(join(dir, 'ledger-')));
  if (only === undefined || only === 'shipped') await benchShipped(mkdtempSync(join(dir, 'shipped-')));
  if (only === undefined || only === 'workers-log') await benchWorkersLog(mkdtempSync(join(dir, 'workers-log-')));
  if (only === undefined || only === 'http') await benchHttp(mkdtempSync(join(dir, 'http-')));
  if (only === undefined || only === 'projections') await benchProjections(mkdtempSync(join(dir, 'projections-')));
  if (only === undefined || only === 'expiry') await benchExpiry(mkdtempSync(join(dir, 'expiry-')));
  if (only === undefined || only === 'audit') await benchAudit(mkdtempSync(join(dir, 'audit-')));
  if (only === undefined || only === 'fanout') await benchFanout(mkdtempSync(join(dir, 'fanout-')));
  console.log(`\nwrote ${writeResults()}`);
} finally {
  cleanDir(dir);
}
