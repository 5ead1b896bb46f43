import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAccountStream, AccountCommandHandler, SqliteEventStore, ManualClock } from '../../../../ledger/src/index.js';
import { readWholeLog, removeTempDirs, tempDir } from '../../../../ledger/src/testing/index.js';
import { Projector } from '../../runtime/projector.js';
import { FileRelayCheckpoint } from '../relayCheckpoint.js';
import { serviceQueues } from '../topology.js';
import { RabbitMqRelay } from './rabbitMqRelay.js';
import { BrokerNode } from './testing/brokerNode.js';
import { collectQueue, type Received } from './testing/broker.js';

const clock = new ManualClock('2026-01-01T00:00:00.000Z');
const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const until = async (condition: () => boolean, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const users = ['ana', 'ben', 'cai'];
const purchases = async (handler: AccountCommandHandler, from: number, count: number): Promise<void> => {
  await Promise.all(
    users.map(async (user) => {
      for (let i = from; i < from + count; i++) {
        const result = await handler.execute(
          user,
          { type: 'PurchaseCredits', amount: 1, paymentRef: `p-${i}`, now: clock.now() },
          context,
        );
        if (!result.ok) throw new Error(result.rejection.code);
      }
    }),
  );
};

describe('RabbitMQ relay against a broker node of its own, stopped and started mid-stream', { timeout: 400_000 }, () => {
  it('loses nothing and keeps per-account order', async () => {
    const node = new BrokerNode();
    closers.push(() => node.remove());
    await node.start();

    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    closers.push(() => store.close());
    const handler = new AccountCommandHandler(store);
    const relay = new RabbitMqRelay({
      url: node.url,
      checkpoint: new FileRelayCheckpoint(join(dir, 'relay-checkpoint.json')),
      reconnectDelayMsMax: 1_000,
    });
    await relay.start();
    const projector = new Projector(store, relay, { watchdogIntervalMs: 200 });
    projector.start();
    closers.push(async () => {
      await projector.stop();
      await relay.close();
    });

    const appending = purchases(handler, 0, 300);
    await until(() => relay.metrics().confirmed > 50);
    await node.stop(); // mid-stream: a clean shutdown, which the client sees only as a close
    await appending;
    await purchases(handler, 300, 50); // while the broker is down
    await expect(relay.ready()).rejects.toThrow(/broker/);
    await node.start();
    await projector.waitUntilCaughtUp(120_000);
    expect(relay.metrics().reconnects).toBeGreaterThanOrEqual(1);

    const ids = (await readWholeLog(store)).filter((e) => isAccountStream(e.stream)).map((e) => e.id);
    for (const queue of serviceQueues) {
      const received = await collectQueue(
        node.url,
        queue,
        (r) => {
          const seen = new Set(r.map((m) => m.messageId));
          return ids.every((id) => seen.has(id));
        },
        60_000,
      );
      const firsts = new Map<string, Received>();
      for (const r of received) if (!firsts.has(r.messageId)) firsts.set(r.messageId, r);
      // Every event, and per account in revision order (log order across accounts may interleave differently).
      expect(new Set(firsts.keys())).toEqual(new Set(ids));
      const last = new Map<string, number>();
      for (const m of firsts.values()) {
        const userId = String(m.body.userId);
        expect(Number(m.body.revision)).toBeGreaterThan(last.get(userId) ?? -1);
        last.set(userId, Number(m.body.revision));
      }
    }
  });
});
