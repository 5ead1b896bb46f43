/**
 * Profiles the RabbitMQ relay over a generated log (not part of `npm run bench`; needs the broker at
 * AMQP_URL, in a vhost of its own):
 *   npx tsx bench/profileRelay.ts [events=20000] [runs=relay,shared,raw]
 * `relay` is the relay on a Projector with a subscription of its own (as `npm run bench -- fanout`),
 * `shared` the same through a SharedLogReader (as `npm start` runs it), `raw` plain amqplib publishing
 * of the pre-built messages (the bench's baseline). Prints wall and CPU time per message of each; with
 * PROFILE=1 it also writes a V8 CPU profile of each run to data/bench/relay-<run>.cpuprofile
 * (summarise one with `npx tsx bench/profileSummary.ts <file> <messages>`).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { SqliteEventStore } from '../ledger/src/index.js';
import { appendBulkPurchases, readWholeLog } from '../ledger/src/testing/index.js';
import {
  FileRelayCheckpoint,
  outgoingMessageOf,
  Projector,
  RabbitMqRelay,
  relayLimits,
  serviceQueues,
  SharedLogReader,
  type OutgoingMessage,
} from '../projections/src/index.js';
import { createVhost, publishRaw, purgeQueues } from '../projections/src/testing/index.js';
import { cleanDir } from './ledger.bench.js';

const total = Number(process.argv[2] ?? 20_000);
const runs = (process.argv[3] ?? 'raw,relay,shared,raw').split(',');
const profile = process.env.PROFILE === '1';
const root = join(process.cwd(), 'data', 'bench');
mkdirSync(root, { recursive: true });
const dir = mkdtempSync(join(root, 'profile-relay-'));
const vhost = await createVhost();
try {
  const store = new SqliteEventStore({ path: join(dir, 'events.db') });
  await appendBulkPurchases(store, 100, total / 100);
  const messages = (await readWholeLog(store)).map(outgoingMessageOf).filter((m): m is OutgoingMessage => m !== undefined);
  const session = new Session();
  if (profile) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
  }
  for (const [index, run] of runs.entries()) {
    let stop = async (): Promise<void> => undefined;
    let work: () => Promise<void>;
    if (run === 'raw') {
      work = () => publishRaw(vhost.url(), messages, relayLimits.unconfirmedMessagesMax * 2);
    } else if (run === 'relay' || run === 'shared') {
      const relay = new RabbitMqRelay({
        url: vhost.url(),
        checkpoint: new FileRelayCheckpoint(join(dir, `relay-${index}.json`)),
      });
      await relay.start();
      const sharedLog = run === 'shared' ? new SharedLogReader(store) : undefined;
      const projector = new Projector(store, relay, sharedLog === undefined ? {} : { sharedLog });
      work = async () => {
        projector.start();
        await projector.waitUntilCaughtUp(300_000);
      };
      stop = async () => {
        await projector.stop();
        sharedLog?.close();
        await relay.close();
      };
    } else throw new Error(`unknown run ${run}: relay, shared or raw`);
    if (profile) await session.post('Profiler.start');
    const started = performance.now();
    const cpu = process.cpuUsage();
    await work();
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    if (profile) {
      const { profile: cpuProfile } = await session.post('Profiler.stop');
      writeFileSync(join(root, `relay-${run}.cpuprofile`), JSON.stringify(cpuProfile));
    }
    console.log(
      `${run}: ${messages.length} messages in ${seconds.toFixed(2)} s (${Math.round(messages.length / seconds)}/s), ` +
        `CPU ${Math.round((used.user + used.system) / messages.length)} µs/message ` +
        `(user ${Math.round(used.user / messages.length)}, system ${Math.round(used.system / messages.length)})`,
    );
    await stop();
    await purgeQueues(vhost.url(), serviceQueues);
  }
  await store.close();
} finally {
  await vhost.remove();
  cleanDir(dir);
}
