import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { createSigner } from 'fast-jwt';
import { serviceQueues } from '../projections/src/index.js';
import { consumeQueue, purgeQueues } from '../projections/src/testing/index.js';
import { secret } from './http.bench.js';
import { percentile } from './report.js';
import { seed, shippedUsers, startShipped, startTimeoutMs, stopShipped, timeToCaughtUp } from './shipped.bench.js';

export interface ShippedLatency {
  readonly commands: number;
  readonly arrived: number;
  readonly commandsPerSecond: number;
  /** Command sent → its message consumed from user_credit_queue. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Command sent → its 201 (the append fsync'd), for comparison. */
  readonly commandP99Ms: number;
  /** Its 201 → its message consumed: the relay's part (reading the log from the other process, publishing, confirms, delivery). */
  readonly afterAnswerP50Ms: number;
  readonly afterAnswerP99Ms: number;
}

const path = '/api/credits/boost/profile';
const body = JSON.stringify({ targetUserId: 'target-1', amount: 1, duration: 24 });

/**
 * Command → consumer latency of the system as it ships: `npm start` (HTTP process plus workers process,
 * where the relay runs) with AMQP_URL, `writers` concurrent writers each sending its next boost over
 * HTTP once the last one was answered (and, paced, not before its due time), and a consumer on
 * user_credit_queue. A command's clock starts
 * before its request is sent; its message is matched by messageId (= the eventId the 201 answers).
 */
export const shippedFanoutLatency = async (
  dir: string,
  amqpUrl: string,
  writers: number,
  seconds: number,
  /** All writers together send at most this many commands a second (each command has a due time); unpaced when undefined. */
  perSecond?: number,
): Promise<ShippedLatency> => {
  const dataDir = mkdtempSync(join(dir, 'shipped-fanout-'));
  await seed(dataDir);
  const server = await startShipped(dataDir, 'process', { AMQP_URL: amqpUrl });
  try {
    if ((await timeToCaughtUp(server.address, startTimeoutMs / 10)) === Number.POSITIVE_INFINITY) {
      throw new Error('the server did not fold and publish the seed');
    }
    const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3_600_000 });
    const tokens = Array.from({ length: shippedUsers }, (_, u) => `Bearer ${sign({ sub: `bench-${u}`, roles: ['user'] })}`);
    const load = async (
      runSeconds: number,
      started: Map<string, { begin: number; answered: number }> | undefined,
      answers: number[],
    ): Promise<void> => {
      const start = performance.now();
      const deadline = start + runSeconds * 1000;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; performance.now() < deadline; i++) {
            if (perSecond !== undefined) {
              // Writer w's i-th command is due at a fixed time; a writer behind its schedule sends at once.
              const due = start + ((writers * i + w) * 1000) / perSecond;
              if (due >= deadline) break;
              const wait = due - performance.now();
              if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            }
            const token = tokens[(w + writers * i) % tokens.length] ?? '';
            const begin = performance.now();
            const response = await fetch(`${server.address}${path}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: token },
              body,
            });
            const answer = (await response.json()) as { eventId?: string };
            if (response.status !== 201 || answer.eventId === undefined) {
              throw new Error(`boost answered ${response.status}: ${JSON.stringify(answer)}`);
            }
            const answered = performance.now();
            answers.push(answered - begin);
            started?.set(answer.eventId, { begin, answered });
          }
        }),
      );
    };
    await load(2, undefined, []); // warm-up: connections, JIT, the relay's channel
    if ((await timeToCaughtUp(server.address, 1000)) === Number.POSITIVE_INFINITY) throw new Error('not caught up');
    await purgeQueues(amqpUrl, serviceQueues);

    const arrived = new Map<string, number>();
    const stopConsuming = await consumeQueue(amqpUrl, 'user_credit_queue', (message) => {
      const id = String(message.properties.messageId);
      if (!arrived.has(id)) arrived.set(id, performance.now());
    });
    const started = new Map<string, { begin: number; answered: number }>();
    const answers: number[] = [];
    const loadStart = performance.now();
    await load(seconds, started, answers);
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const deadline = performance.now() + 60_000;
    while ([...started.keys()].some((id) => !arrived.has(id)) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stopConsuming();
    const since = (from: 'begin' | 'answered'): number[] =>
      [...started]
        .flatMap(([id, times]) => {
          const at = arrived.get(id);
          return at === undefined ? [] : [at - times[from]];
        })
        .sort((a, b) => a - b);
    const latencies = since('begin');
    const afterAnswer = since('answered');
    answers.sort((a, b) => a - b);
    return {
      commands: started.size,
      arrived: latencies.length,
      commandsPerSecond: started.size / loadSeconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1] ?? Number.NaN,
      commandP99Ms: percentile(answers, 99),
      afterAnswerP50Ms: percentile(afterAnswer, 50),
      afterAnswerP99Ms: percentile(afterAnswer, 99),
    };
  } finally {
    await stopShipped(server.child);
  }
};
