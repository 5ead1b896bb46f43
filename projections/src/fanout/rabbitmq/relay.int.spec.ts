import { afterEach, describe, expect, it } from 'vitest';
import {
  type AccountCommand,
  isAccountStream,
  type AccountCommandHandler,
  type RecordedEvent,
  type SqliteEventStore,
  ManualClock,
} from '../../../../ledger/src/index.js';
import { closersAfterEach, readWholeLog, until as pollUntil } from '../../../../ledger/src/testing/index.js';
import { Projector } from '../../runtime/projector.js';
import { ledgerMessageSchema, messageAppId, messageSchemas } from '../messages.js';
import { serviceQueues } from '../topology.js';
import { connect } from 'amqplib';
import { declareTopology } from './declareTopology.js';
import { collectQueue, readQueue, readUntilAll, startProxy, type Received } from './testing/broker.js';
import { openLedgerWithVhost, startRelaying, startSettlement } from './testing/fanoutFixture.js';

const clock = new ManualClock('2026-01-01T00:00:00.000Z');
const context = { actor: 'test', correlationId: 'corr-1', causationId: 'c' };
const closers = closersAfterEach(afterEach);
const until = (condition: () => boolean, timeoutMs = 30_000): Promise<void> => pollUntil(condition, { timeoutMs, intervalMs: 5 });

const users = ['ana', 'ben', 'cai', 'dee'];

/** Every command type that appends an account event (settlement adds the GigPaymentReceived ones). */
const round = async (handler: AccountCommandHandler, r: number): Promise<void> => {
  await Promise.all(
    users.map(async (user, u) => {
      const commands: AccountCommand[] = [
        { type: 'PurchaseCredits', amount: 100, paymentRef: `p-${r}`, now: clock.now() },
        { type: 'EarnCredits', amount: 5, source: 'referral', refId: `ref-${r}`, now: clock.now() },
        {
          type: 'SpendCredits',
          amount: 7,
          targetType: u % 2 === 0 ? 'gig' : 'clan',
          targetId: 't1',
          reason: '',
          now: clock.now(),
        },
        {
          type: 'ActivateBoost',
          boostId: `b-${user}-${r}`,
          targetType: (['profile', 'gig', 'clan'] as const)[u % 3] ?? 'gig',
          targetId: 'x1',
          amount: 3,
          durationHours: 1,
          now: clock.now(),
        },
        { type: 'ContributeToClan', clanId: 'clan-1', amount: 5, now: clock.now() },
        {
          type: 'PayForGig',
          transferId: `t-${user}-${r}`,
          gigId: 'g1',
          payeeId: users[(u + 1) % users.length] ?? 'ana',
          amount: 11,
          now: clock.now(),
        },
        { type: 'ExpireBoost', boostId: `b-${user}-${r}`, now: clock.now().plus({ hours: 2 }) },
      ];
      for (const command of commands) {
        const result = await handler.execute(user, command, context);
        if (!result.ok) throw new Error(result.rejection.code);
      }
    }),
  );
};

const open = async (options: { port?: number } = {}) => {
  const ledger = await openLedgerWithVhost(closers, clock);
  const { dir, store, handler, vhost, checkpoint } = ledger;
  const settlement = startSettlement(closers, ledger);
  const startRelay = (port = options.port) => startRelaying(closers, store, vhost.url(port), checkpoint);
  return { dir, store, handler, settlement, vhost, checkpoint, startRelay };
};

const accountEvents = async (store: SqliteEventStore): Promise<RecordedEvent[]> =>
  (await readWholeLog(store)).filter((e) => isAccountStream(e.stream));

/** Drops repeats by messageId (what a consumer does) and checks every repeat is the same message. */
const dedupe = (received: readonly Received[]): Received[] => {
  const seen = new Map<string, Received>();
  const firsts: Received[] = [];
  for (const r of received) {
    const earlier = seen.get(r.messageId);
    if (earlier === undefined) {
      seen.set(r.messageId, r);
      firsts.push(r);
    } else expect(r.body).toEqual(earlier.body);
  }
  return firsts;
};

/** Per account, the messages' revisions strictly increase (log order kept per account). */
const expectPerAccountOrder = (messages: readonly Received[]): void => {
  const last = new Map<string, number>();
  for (const m of messages) {
    const userId = String(m.body.userId);
    const revision = Number(m.body.revision);
    expect(revision, `${userId} out of order`).toBeGreaterThan(last.get(userId) ?? -1);
    last.set(userId, revision);
  }
};

describe('RabbitMQ relay (real broker, own vhost)', { timeout: 120_000 }, () => {
  it('publishes every account event exactly once to each queue, in order, with the seed fields and AMQP properties', async () => {
    const { store, handler, settlement, vhost, startRelay, checkpoint } = await open();
    await round(handler, 0);
    await round(handler, 1);
    await settlement.waitUntilCaughtUp();
    const { projector, relay } = await startRelay();
    await projector.waitUntilCaughtUp();
    await relay.flushCheckpoint();
    const events = await accountEvents(store);
    expect(new Set(events.map((e) => e.type)).size).toBe(8); // every account event type is in the workload
    expect(await checkpoint.load()).toBe(await store.headPosition());
    expect(relay.metrics()).toMatchObject({ confirmed: events.length, nacked: 0, returned: 0, unconfirmed: 0, connected: true });
    await expect(relay.ready()).resolves.toBeUndefined();

    for (const queue of serviceQueues) {
      const received = await readQueue(vhost.url(), queue, events.length);
      expect(received.map((r) => r.messageId)).toEqual(events.map((e) => e.id)); // exactly once, in log order
      expectPerAccountOrder(received);
      for (const r of received) {
        const parsed = ledgerMessageSchema.parse(r.body);
        expect(messageSchemas[parsed.type].safeParse(r.body).success).toBe(true);
        expect(Object.keys(r.body)).toEqual(
          expect.arrayContaining(['type', 'userId', 'targetId', 'targetType', 'amount', 'duration', 'eventId', 'timestamp']),
        );
        expect(r.body.eventId).toBe(r.messageId);
        expect(r.message.properties).toMatchObject({
          type: parsed.type,
          contentType: 'application/json',
          deliveryMode: 2,
          appId: messageAppId,
          correlationId: 'corr-1',
        });
        expect(r.message.properties.timestamp).toBe(Math.floor(Date.parse(parsed.timestamp) / 1000));
        expect(r.message.fields.routingKey).toBe(
          ['profile_boost', 'gig_boost', 'clan_boost', 'boost_expired'].includes(parsed.type) ? 'boost.event' : 'credit.event',
        );
      }
      const types = new Set(received.map((r) => r.type));
      expect([...types].sort()).toEqual([
        'boost_expired',
        'clan_boost',
        'clan_contribution',
        'credit_earned',
        'credit_purchase',
        'credit_spent',
        'gig_boost',
        'gig_payment',
        'profile_boost',
      ]);
    }
  });

  it('the connection cut 10 times mid-stream: nothing lost, per-account order kept, repeats carry the same messageId', async () => {
    const { store, handler, settlement, vhost, startRelay } = await open();
    const proxy = await startProxy(Number(new URL(vhost.url()).port || 5672));
    closers.push(() => proxy.close());
    const { projector, relay } = await startRelay(proxy.port);
    let rounds = 0;
    for (let cut = 0; cut < 10; cut++) {
      const publishedBefore = relay.metrics().published;
      const appending = (async () => {
        for (let i = 0; i < 3; i++) await round(handler, rounds++);
      })();
      // Cut once the relay is publishing this stretch of the log: messages in flight or about to be.
      await until(() => relay.metrics().published > publishedBefore);
      proxy.cut();
      await appending;
      await until(() => relay.metrics().reconnects === cut + 1);
      // Each cut is its own blip: the relay takes everything up to now before the next one. (Cutting again
      // before anything is confirmed would be a link that never works, and the projector backs off from
      // that, doubling its pause up to 10 s.)
      await projector.waitUntilCaughtUp(30_000);
    }
    await settlement.waitUntilCaughtUp();
    await projector.waitUntilCaughtUp(60_000);
    expect(relay.metrics().reconnects).toBe(10);
    const events = await accountEvents(store);
    for (const queue of serviceQueues) {
      // Repeats take places in the queue: read until every event arrived, however many repeats came first.
      const received = await readUntilAll(
        vhost.url(),
        queue,
        events.map((e) => e.id),
      );
      const firsts = dedupe(received);
      expect(new Set(firsts.map((r) => r.messageId))).toEqual(new Set(events.map((e) => e.id)));
      expectPerAccountOrder(firsts);
    }
  });

  it('a broker unreachable at start: ready() says why, and the relay catches up once it is reachable', async () => {
    const { store, handler, settlement, vhost, startRelay } = await open();
    // A port nothing listens on yet: the proxy is started on it later.
    const placeholder = await startProxy(1);
    const port = placeholder.port;
    await placeholder.close();
    const { projector, relay, stop } = await startRelay(port);
    await round(handler, 0);
    await settlement.waitUntilCaughtUp();
    await expect(relay.ready()).rejects.toThrow(/broker unreachable|not connected/);
    expect((await projector.status()).lagEvents).toBeGreaterThan(0);

    const proxy = await startProxy(Number(new URL(vhost.url()).port || 5672), port);
    closers.push(() => proxy.close());
    await projector.waitUntilCaughtUp(60_000);
    await expect(relay.ready()).resolves.toBeUndefined();
    const events = await accountEvents(store);
    const received = await readUntilAll(
      vhost.url(),
      'gig_credit_queue',
      events.map((e) => e.id),
    );
    expect(dedupe(received).map((r) => r.messageId)).toEqual(events.map((e) => e.id));
    await stop(); // before the proxy closes, or the relay would keep reconnecting through it
  });

  it('a lost checkpoint re-publishes with the same messageIds', async () => {
    const { store, handler, settlement, vhost, startRelay, checkpoint } = await open();
    await round(handler, 0);
    await settlement.waitUntilCaughtUp();
    const first = await startRelay();
    await first.projector.waitUntilCaughtUp();
    await first.stop();
    const { rm } = await import('node:fs/promises');
    await rm(checkpoint.path);
    expect(await checkpoint.load()).toBeUndefined();
    const second = await startRelay();
    await second.projector.waitUntilCaughtUp();
    const events = await accountEvents(store);
    const received = await readQueue(vhost.url(), 'user_credit_queue', events.length * 2);
    expect(received.map((r) => r.messageId)).toEqual([...events, ...events].map((e) => e.id));
  });

  it('a returned (unroutable) publish is retried, never skipped: the checkpoint stays behind it until it is routed', async () => {
    const { store, handler, vhost, startRelay, checkpoint } = await open();
    const { projector, relay } = await startRelay();
    await until(() => relay.metrics().connected);
    // No queue bound to credit_events any more: a mandatory publish there comes back as unroutable.
    const admin = await connect(vhost.url());
    closers.push(() => admin.close());
    const channel = await admin.createChannel();
    for (const queue of serviceQueues) await channel.deleteQueue(queue);
    const result = await handler.execute(
      'ana',
      { type: 'PurchaseCredits', amount: 10, paymentRef: 'r', now: clock.now() },
      context,
    );
    expect(result.ok).toBe(true);
    const [event] = await accountEvents(store);
    if (event === undefined) throw new Error('no event appended');
    await until(() => relay.metrics().returned >= 2); // returned, and returned again on the retry
    await relay.flushCheckpoint();
    expect((await checkpoint.load()) ?? -1).toBeLessThan(event.position);
    await expect(projector.status()).resolves.toMatchObject({ lagEvents: 1 });

    // The queues come back one by one, and a retry that lands half-way is routed to the queues already
    // back (mandatory means "at least one queue"): the runtime is paused while they come back, then the
    // same relay, resubscribed from its checkpoint, publishes the event it never got past.
    await projector.stop();
    expect((await checkpoint.load()) ?? -1).toBeLessThan(event.position);
    await declareTopology(admin);
    const resumed = new Projector(store, relay, { watchdogIntervalMs: 200 });
    resumed.start();
    closers.push(() => resumed.stop());
    await resumed.waitUntilCaughtUp(60_000);
    await relay.flushCheckpoint();
    expect(await checkpoint.load()).toBe(event.position);
    for (const queue of serviceQueues) {
      const received = await readQueue(vhost.url(), queue, 1);
      expect(received.map((r) => r.messageId)).toEqual([event.id]);
    }
  });

  it('a nacked publish is retried, never skipped: a queue that rejects publishes (full, reject-publish) holds the checkpoint back', async () => {
    const { store, handler, vhost, startRelay, checkpoint } = await open();
    const { projector, relay } = await startRelay();
    await until(() => relay.metrics().connected);
    // The broker nacks a confirmed publish that a full queue with `x-overflow: reject-publish` refuses.
    const admin = await connect(vhost.url());
    closers.push(() => admin.close());
    const channel = await admin.createChannel();
    await channel.deleteQueue('user_credit_queue');
    await channel.assertQueue('user_credit_queue', {
      durable: true,
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
    });
    await channel.bindQueue('user_credit_queue', 'credit_events', 'credit.event');
    const result = await handler.execute(
      'ben',
      { type: 'PurchaseCredits', amount: 10, paymentRef: 'n', now: clock.now() },
      context,
    );
    expect(result.ok).toBe(true);
    const [event] = await accountEvents(store);
    if (event === undefined) throw new Error('no event appended');
    await until(() => relay.metrics().nacked >= 2); // nacked, and nacked again on the retry
    await relay.flushCheckpoint();
    expect((await checkpoint.load()) ?? -1).toBeLessThan(event.position);

    // The queue as the relay declares it again: the retry is taken and the checkpoint moves past the event.
    await channel.deleteQueue('user_credit_queue');
    await declareTopology(admin);
    await projector.waitUntilCaughtUp(60_000);
    await relay.flushCheckpoint();
    expect(await checkpoint.load()).toBe(event.position);
    const received = await readQueue(vhost.url(), 'user_credit_queue', 1);
    expect(received.map((r) => r.messageId)).toEqual([event.id]);
    // The other queues took every attempt: the same messageId, possibly more than once, never another.
    const gig = await collectQueue(vhost.url(), 'gig_credit_queue', (got) => got.length >= 1);
    expect(new Set(gig.map((r) => r.messageId))).toEqual(new Set([event.id]));
  });
});
