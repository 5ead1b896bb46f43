import { join } from 'node:path';
import { AccountCommandHandler, SqliteEventStore, ManualClock } from '../ledger/src/index.js';
import { appendBulkPurchases, readWholeLog } from '../ledger/src/testing/index.js';
import {
  outgoingMessageOf,
  type OutgoingMessage,
  RabbitMqRelay,
  relayLimits,
  FileRelayCheckpoint,
  serviceQueues,
  Projector,
} from '../projections/src/index.js';
import { createVhost, consumeQueue, publishRaw, purgeQueues } from '../projections/src/testing/index.js';
import { shippedFanoutLatency } from './fanoutShipped.js';
import { percentile, report } from './report.js';

const throughputEvents = 20_000;
const writers = 64;
const commandsPerWriter = 40;
/** The paced in-process run: commands per second from all writers together, well below the relay's throughput. */
const pacedCommandsPerSecond = 200;
/** How long the 64 HTTP writers run against `npm start` (after a 2 s warm-up). */
const shippedSeconds = 8;
/**
 * The paced run through `npm start`: commands per second from the 64 HTTP writers together — a load the
 * machine sustains (about a quarter of what confirmed, persistent publishing to three queues takes here),
 * so the latency is the relay's own and not a backlog's. Unpaced, the writers offer more than the broker
 * can persist on 2 cores shared with the gateway, and the latency grows with the run.
 */
const shippedPacedPerSecond = 1000;

/**
 * `npm run bench -- fanout`, against the broker at AMQP_URL (default the local one), in a vhost of its
 * own: the relay's throughput as a ratio to raw amqplib confirm-channel publishing of the same
 * messages to the same exchanges and queues, and command → consumer latency with 64 writers: through
 * the HTTP API of `npm start` with AMQP_URL (the target figure: what a user's writers see), and through
 * the command handler in the bench's own process (no HTTP), where 64 writers offer commands several
 * times faster than any confirmed, persistent publishing on the machine can take them, so its
 * percentiles measure the backlog that builds, not the relay.
 */
const clock = new ManualClock('2026-01-01T00:00:00.000Z');

/**
 * Command → consumer latency with `writers` writers calling the command handler in this process, each
 * sending `commandsPerWriter` purchases, at once or paced to `perSecond` in all. Arrivals are recorded
 * by messageId and matched with the command's start afterwards: a message can reach the consumer
 * before `execute` resolves (and its event id is known), and must not be dropped.
 */
const inProcessLatency = async (
  url: string,
  handler: AccountCommandHandler,
  run: string,
  perSecond: number | undefined,
): Promise<{ commands: number; arrived: number; offeredPerSecond: number; p50Ms: number; p99Ms: number }> => {
  const started = new Map<string, number>();
  const arrived = new Map<string, number>();
  const stopConsuming = await consumeQueue(url, 'user_credit_queue', (message) => {
    const id = String(message.properties.messageId);
    if (!arrived.has(id)) arrived.set(id, performance.now());
  });
  const expected = writers * commandsPerWriter;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < commandsPerWriter; i++) {
        if (perSecond !== undefined) {
          // Writer w's i-th command is due at a fixed time: all writers together offer `perSecond`.
          const dueMs = start + ((i * writers + w) * 1000) / perSecond;
          const waitMs = dueMs - performance.now();
          if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
        }
        const begin = performance.now();
        const result = await handler.execute(
          `writer-${run}-${w}`,
          { type: 'PurchaseCredits', amount: 1, paymentRef: `lat-${w}-${i}`, now: clock.now() },
          { actor: 'bench', correlationId: 'bench', causationId: 'bench' },
        );
        if (!result.ok) throw new Error(result.rejection.code);
        for (const event of result.events) started.set(event.id, begin);
      }
    }),
  );
  const offeredPerSecond = expected / ((performance.now() - start) / 1000);
  const deadline = performance.now() + 60_000;
  while ([...started.keys()].some((id) => !arrived.has(id)) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await stopConsuming();
  const latencies = [...started]
    .flatMap(([id, begin]) => {
      const at = arrived.get(id);
      return at === undefined ? [] : [at - begin];
    })
    .sort((a, b) => a - b);
  return {
    commands: started.size,
    arrived: latencies.length,
    offeredPerSecond,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
};

export const benchFanout = async (dir: string): Promise<void> => {
  const vhost = await createVhost();
  try {
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    await appendBulkPurchases(store, 100, throughputEvents / 100);
    const messages = (await readWholeLog(store)).map(outgoingMessageOf).filter((m): m is OutgoingMessage => m !== undefined);

    // Baseline: raw amqplib, same messages, same window (it counts publishes, two per message; the relay counts
    // messages), run before and after the relay: the machine is shared, and its load drifts within a run.
    let rawCpuUs = 0;
    const cpuUs = (since: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(since);
      return used.user + used.system;
    };
    const raw = async (): Promise<number> => {
      const start = performance.now();
      const cpu = process.cpuUsage();
      await publishRaw(vhost.url(), messages, relayLimits.unconfirmedMessagesMax * 2);
      rawCpuUs += cpuUs(cpu);
      const seconds = (performance.now() - start) / 1000;
      await purgeQueues(vhost.url(), serviceQueues);
      return seconds;
    };
    const rawBefore = await raw();

    // The relay: from the log, checkpointed, through the projection runtime.
    const relay = new RabbitMqRelay({ url: vhost.url(), checkpoint: new FileRelayCheckpoint(join(dir, 'relay.json')) });
    await relay.start();
    const projector = new Projector(store, relay);
    const relayStart = performance.now();
    const relayCpu = process.cpuUsage();
    projector.start();
    await projector.waitUntilCaughtUp(300_000);
    const relaySeconds = (performance.now() - relayStart) / 1000;
    const relayCpuUs = cpuUs(relayCpu);
    await purgeQueues(vhost.url(), serviceQueues);
    const rawSeconds = (rawBefore + (await raw())) / 2;
    const baseline = { name: 'raw amqplib confirm channel', value: messages.length / rawSeconds, unit: 'messages/s' };
    const ratio = rawSeconds / relaySeconds;
    report({
      name: `relay throughput (${messages.length} events, persistent, confirmed, 3 quorum queues)`,
      value: messages.length / relaySeconds,
      unit: 'messages/s',
      baseline,
      target: '≥ 0.8 × raw',
      pass: ratio >= 0.8,
    });
    // Where a gap comes from on a busy machine: the relay also reads, decodes and maps each event.
    report({
      name: 'relay CPU per message (read, decode, map, publish, confirm, checkpoint)',
      value: relayCpuUs / messages.length,
      unit: 'µs',
      baseline: { name: 'raw amqplib CPU per message (publish, confirm)', value: rawCpuUs / 2 / messages.length, unit: 'µs' },
    });

    // Latency, in-process: command → consumer, 64 concurrent writers through the command handler (no HTTP),
    // unpaced (each sends its next command once the last one committed), then paced to a stated rate well
    // below the relay's throughput (the relay's own latency, without a backlog).
    const handler = new AccountCommandHandler(store);
    const unpaced = await inProcessLatency(vhost.url(), handler, 'unpaced', undefined);
    const paced = await inProcessLatency(vhost.url(), handler, 'paced', pacedCommandsPerSecond);
    await projector.stop();
    await relay.close();
    await store.close();
    for (const [run, label] of [
      [unpaced, `in-process, ${writers} writers through the command handler, unpaced`],
      [paced, `in-process, ${writers} writers through the command handler, paced to ${pacedCommandsPerSecond} commands/s`],
    ] as const) {
      report({ name: `command → consumer latency p50 (${label})`, value: run.p50Ms, unit: 'ms' });
      report({
        name: `command → consumer latency p99 (${label}: ${run.arrived}/${run.commands} arrived, ${Math.round(run.offeredPerSecond)} commands/s offered)`,
        value: run.p99Ms,
        unit: 'ms',
      });
    }

    // Latency as shipped: 64 writers over HTTP against `npm start` with AMQP_URL (the relay in the workers
    // process), paced to a load the machine sustains, then unpaced (as fast as the writers are answered).
    for (const perSecond of [shippedPacedPerSecond, undefined]) {
      const shipped = await shippedFanoutLatency(dir, vhost.url(), writers, shippedSeconds, perSecond);
      const shippedLabel = `npm start with AMQP_URL, ${writers} HTTP writers, ${perSecond === undefined ? 'unpaced' : 'paced'}, ${Math.round(shipped.commandsPerSecond)} commands/s`;
      report({ name: `command → consumer latency p50 (${shippedLabel})`, value: shipped.p50Ms, unit: 'ms' });
      report({
        name: `command → consumer latency p99 (${shippedLabel}, ${shipped.arrived}/${shipped.commands} arrived)`,
        value: shipped.p99Ms,
        unit: 'ms',
        baseline: { name: 'command → 201 p99 (same run)', value: shipped.commandP99Ms, unit: 'ms' },
        target: '≤ 100 ms',
        pass: shipped.p99Ms <= 100 && shipped.arrived === shipped.commands,
      });
      report({ name: `command → consumer latency max (${shippedLabel})`, value: shipped.maxMs, unit: 'ms' });
      report({ name: `201 → consumer latency p50 (${shippedLabel})`, value: shipped.afterAnswerP50Ms, unit: 'ms' });
      report({ name: `201 → consumer latency p99 (${shippedLabel})`, value: shipped.afterAnswerP99Ms, unit: 'ms' });
    }
  } finally {
    await vhost.remove();
  }
};
