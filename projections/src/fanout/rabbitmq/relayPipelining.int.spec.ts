import { connect } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../ledger/src/index.js';
import { appendBulkPurchases, closersAfterEach, readWholeLog, until as pollUntil } from '../../../../ledger/src/testing/index.js';
import { Projector } from '../../runtime/projector.js';
import { ledgerEventsExchange } from '../topology.js';
import { RabbitMqRelay } from './rabbitMqRelay.js';
import { queueDepth, readQueue } from './testing/broker.js';
import { openLedgerWithVhost } from './testing/fanoutFixture.js';

const clock = new ManualClock('2026-01-01T00:00:00.000Z');
const context = { actor: 'test', correlationId: 'corr-1', causationId: 'c' };
const closers = closersAfterEach(afterEach);
const until = (condition: () => boolean, timeoutMs = 30_000): Promise<void> => pollUntil(condition, { timeoutMs, intervalMs: 1 });

const open = async () => {
  const { store, vhost, checkpoint, handler } = await openLedgerWithVhost(closers, clock);
  const relay = new RabbitMqRelay({ url: vhost.url(), checkpoint, reconnectDelayMsMax: 500 });
  closers.push(() => relay.close());
  await relay.start();
  await until(() => relay.metrics().connected);
  return { store, vhost, checkpoint, relay, handler };
};

describe('RabbitMQ relay, batches pipelined (real broker, own vhost)', { timeout: 120_000 }, () => {
  it('a late nack, after the next batch was published: neither batch counts, the checkpoint stays behind, and both are republished', async () => {
    const { store, vhost, checkpoint, relay, handler } = await open();
    // A queue that refuses every publish (full, reject-publish), bound to purchases only on the topic exchange:
    // the broker nacks a purchase and takes everything else.
    const admin = await connect(vhost.url());
    closers.push(() => admin.close());
    const channel = await admin.createChannel();
    await channel.assertQueue('refuses_purchases', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await channel.bindQueue('refuses_purchases', ledgerEventsExchange, '*.credit_purchase');
    for (const command of [
      { type: 'PurchaseCredits', amount: 10, paymentRef: 'n', now: clock.now() },
      { type: 'EarnCredits', amount: 5, source: 'referral', refId: 'r', now: clock.now() },
    ] as const) {
      expect((await handler.execute('ana', command, context)).ok).toBe(true);
    }
    const [purchase, earning] = (await readWholeLog(store)).filter((e) => e.stream === 'account-ana');
    if (purchase === undefined || earning === undefined) throw new Error('events not appended');

    const first = await relay.handle([purchase]);
    const second = await relay.handle([earning]);
    // Both are on the wire before the first one's answer can have arrived (no I/O between the two calls).
    expect(relay.metrics()).toMatchObject({ published: 2, unconfirmed: 2 });
    await expect(first.done).rejects.toThrow(/nacked/);
    await expect(second.done).rejects.toThrow(/nacked/); // confirmed itself, but behind a message that was not
    expect(relay.metrics()).toMatchObject({ confirmed: 1, nacked: 1, unconfirmed: 0 });
    // Until the runtime resubscribes, nothing more is published: a batch after the failure fails at once.
    const third = await relay.handle([earning]);
    await expect(third.done).rejects.toThrow(/nacked/);
    expect(relay.metrics().published).toBe(2);
    await relay.flushCheckpoint();
    expect(await checkpoint.load()).toBeUndefined();

    // The runtime resubscribes from the checkpoint (nothing saved: from the start) and publishes both again.
    await channel.deleteQueue('refuses_purchases');
    const projector = new Projector(store, relay);
    projector.start();
    closers.push(() => projector.stop());
    await projector.waitUntilCaughtUp(60_000);
    await relay.flushCheckpoint();
    expect(await checkpoint.load()).toBe(earning.position);
    const received = await readQueue(vhost.url(), 'user_credit_queue', 4); // both attempts' copies, repeats included
    // The first attempt's copies (the direct exchange took both), then the republished ones, same messageIds.
    expect(received.map((r) => r.messageId)).toEqual([purchase.id, earning.id, purchase.id, earning.id]);
  });

  it('stop() waits for every confirm in flight: what was published is confirmed, counted and saved', async () => {
    const { store, vhost, checkpoint, relay } = await open();
    await appendBulkPurchases(store, 20, 200);
    const events = await readWholeLog(store);
    const projector = new Projector(store, relay);
    projector.start();
    await until(() => relay.metrics().unconfirmed > 0 && relay.metrics().confirmed > 0);
    await projector.stop();
    const { published, confirmed, unconfirmed } = relay.metrics();
    expect(unconfirmed).toBe(0);
    expect(confirmed).toBe(published);
    expect(published).toBeLessThan(events.length); // stopped mid-stream, not after the end
    // Whole batches were published, so the handled position is the last published event's.
    const status = await projector.status();
    expect(status.checkpoint).toBe(events[published - 1]?.position);
    await relay.flushCheckpoint();
    expect(await checkpoint.load()).toBe(status.checkpoint);
    expect(await queueDepth(vhost.url(), 'user_credit_queue')).toBe(published);
  });
});
