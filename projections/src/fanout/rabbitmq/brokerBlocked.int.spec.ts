import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { isAccountStream, AccountCommandHandler, ManualClock, SqliteEventStore } from '../../../../ledger/src/index.js';
import { readWholeLog, removeTempDirs, tempDir } from '../../../../ledger/src/testing/index.js';
import { Projector } from '../../runtime/projector.js';
import { FileRelayCheckpoint } from '../relayCheckpoint.js';
import { RabbitMqRelay } from './rabbitMqRelay.js';
import { BrokerNode } from './testing/brokerNode.js';
import { readQueue } from './testing/broker.js';

const run = promisify(execFile);
const clock = new ManualClock('2026-01-01T00:00:00.000Z');
const context = { actor: 'test', correlationId: 'c', causationId: 'c' };
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  removeTempDirs();
});

const until = async (condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/**
 * `connection.blocked` comes from a resource alarm, which is node-wide: raising it on the machine's shared
 * broker would block every engineer's publishers. So the alarm is raised on a broker node of this test's
 * own (its own name, ports and mnesia dir), through `rabbitmqctl -n <that node>`.
 */
describe('RabbitMQ relay when the broker blocks publishing (memory alarm on a node of its own)', { timeout: 400_000 }, () => {
  it('pauses, says why in ready(), publishes nothing while blocked, and resumes once unblocked', async () => {
    const node = new BrokerNode();
    closers.push(() => node.remove());
    await node.start();
    const watermark = (value: string) =>
      run('rabbitmqctl', ['-n', node.nodeName, 'set_vm_memory_high_watermark', value], { timeout: 60_000 });

    const dir = tempDir();
    const store = new SqliteEventStore({ path: join(dir, 'events.db') });
    closers.push(() => store.close());
    const handler = new AccountCommandHandler(store);
    const checkpoint = new FileRelayCheckpoint(join(dir, 'relay-checkpoint.json'));
    const relay = new RabbitMqRelay({ url: node.url, checkpoint, reconnectDelayMsMax: 1_000 });
    await relay.start();
    const projector = new Projector(store, relay, { watchdogIntervalMs: 200 });
    projector.start();
    closers.push(async () => {
      await projector.stop();
      await relay.close();
    });
    const purchase = async (ref: string): Promise<void> => {
      const result = await handler.execute(
        'ana',
        { type: 'PurchaseCredits', amount: 1, paymentRef: ref, now: clock.now() },
        context,
      );
      if (!result.ok) throw new Error(result.rejection.code);
    };

    await purchase('before');
    await projector.waitUntilCaughtUp(60_000);
    await expect(relay.ready()).resolves.toBeUndefined();
    const confirmedBefore = relay.metrics().confirmed;

    await watermark('0.0000001'); // any memory use is over it: the node raises its memory alarm
    closers.push(async () => {
      await watermark('0.4').catch(() => undefined);
    });
    await purchase('while-blocked');
    await until(async () => {
      try {
        await relay.ready();
        return false;
      } catch (error) {
        return /blocked/.test((error as Error).message);
      }
    });
    expect((await projector.status()).lagEvents).toBe(1);
    expect(relay.metrics().confirmed).toBe(confirmedBefore); // nothing went through while blocked

    await watermark('0.4');
    await projector.waitUntilCaughtUp(60_000);
    await expect(relay.ready()).resolves.toBeUndefined();
    await relay.flushCheckpoint();
    const events = (await readWholeLog(store)).filter((e) => isAccountStream(e.stream));
    expect(await checkpoint.load()).toBe(events.at(-1)?.position);
    const received = await readQueue(node.url, 'user_credit_queue', events.length);
    expect(received.map((r) => r.messageId)).toEqual(events.map((e) => e.id));
  });
});
