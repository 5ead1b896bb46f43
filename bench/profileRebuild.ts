/**
 * Profiles one rebuild on a generated log (not part of `npm run bench`):
 *   npx tsx bench/profileRebuild.ts [events=200000] [read models, comma-separated]
 * prints events/s, wall and CPU time; with PROFILE=1 it also writes a V8 CPU profile of the rebuild
 * (open it in Chrome DevTools) to data/bench/rebuild.cpuprofile.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { SqliteEventStore } from '../ledger/src/index.js';
import { isReadModelName, rebuildTogether, SqliteReadModelStore } from '../projections/src/index.js';
import { cleanDir } from './ledger.bench.js';
import { seed } from './projections.bench.js';

const total = Number(process.argv[2] ?? 200_000);
const readModels = (process.argv[3] ?? 'account_balances,service_read_models').split(',').filter(isReadModelName);
const root = join(process.cwd(), 'data', 'bench');
mkdirSync(root, { recursive: true });
const dir = mkdtempSync(join(root, 'profile-'));
try {
  const store = new SqliteEventStore({ path: join(dir, 'events.db'), durability: 'normal' });
  await seed(store, total);
  const models = new SqliteReadModelStore(join(dir, 'readmodels.db'));
  const session = new Session();
  const profile = process.env.PROFILE === '1';
  if (profile) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const started = performance.now();
  const cpu = process.cpuUsage();
  const [result] = await rebuildTogether({ store, models, readModels });
  const used = process.cpuUsage(cpu);
  console.log(
    `${readModels.join(' + ')}: ${Math.round(result?.eventsPerSecond ?? 0)} events/s, ` +
      `${Math.round(performance.now() - started)} ms, CPU ${Math.round((used.user + used.system) / 1000)} ms`,
  );
  if (profile) {
    const { profile: cpuProfile } = await session.post('Profiler.stop');
    writeFileSync(join(root, 'rebuild.cpuprofile'), JSON.stringify(cpuProfile));
  }
  await models.close();
  await store.close();
} finally {
  cleanDir(dir);
}
