import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../../ledger/src/testing/index.js';
import type { ProcessedMessages } from '../processedMessages.js';
import { SqliteProcessedMessages } from '../sqlite/sqliteProcessedMessages.js';
import { startConsumer, type Consumer, type ConsumerEvent, type ConsumerOptions, type MessageContext } from './consumer.js';
import { startTcpProxy, type TcpProxy } from './testing/tcpProxy.js';
import { declareQueueWithDlq, testMessageSchema, type TestMessage } from './testing/topology.js';
import { brokerHost, brokerPort, createVhost, type TestVhost } from './testing/vhost.js';

/**
 * The consumer kit against the real broker (127.0.0.1:5672), in a vhost of this file's own that is deleted
 * at the end. Faults are injected around the broker, never to it: a TCP proxy cuts connections, a child
 * process is SIGKILLed mid-handler.
 */
let vhost: TestVhost;
let publisher: ChannelModel;
let channel: ConfirmChannel;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  vhost = await createVhost();
  publisher = await connect(vhost.url());
  channel = await publisher.createConfirmChannel();
}, 120_000);

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

afterAll(async () => {
  await publisher?.close();
  await vhost?.delete();
  removeTempDirs();
}, 120_000);

const waitFor = async (what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const newQueue = async (): Promise<string> => {
  const queue = `q-${randomUUID().slice(0, 8)}`;
  await declareQueueWithDlq(channel, queue);
  return queue;
};

const message = (userId: string, extra: Partial<TestMessage> = {}): TestMessage => ({
  type: 'credit_purchase',
  userId,
  amount: 10,
  ...extra,
});

const publish = async (queue: string, body: unknown, messageId: string | undefined): Promise<void> => {
  const content = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  channel.sendToQueue(queue, content, {
    persistent: true,
    contentType: 'application/json',
    ...(messageId === undefined ? {} : { messageId }),
  });
  await channel.waitForConfirms();
};

/** Ready messages in a queue (unacked ones are not counted). */
const readyCount = async (queue: string): Promise<number> => (await channel.checkQueue(queue)).messageCount;

const deadLettered = async (queue: string): Promise<(string | undefined)[]> => {
  const ids: (string | undefined)[] = [];
  for (;;) {
    const got = await channel.get(`${queue}.dlq`, { noAck: true });
    if (got === false) return ids;
    const deaths = got.properties.headers?.['x-death'] as { queue: string; reason: string }[] | undefined;
    expect(deaths?.[0]).toMatchObject({ queue, reason: 'rejected' });
    ids.push(got.properties.messageId as string | undefined);
  }
};

interface Handled {
  readonly messageId: string;
  readonly message: TestMessage;
  readonly attempt: number;
  readonly redelivered: boolean;
}

const start = async (
  queue: string,
  overrides: Partial<ConsumerOptions<typeof testMessageSchema, Database.Database>> & { dbPath?: string } = {},
): Promise<{ consumer: Consumer; handled: Handled[]; events: ConsumerEvent[]; processed: SqliteProcessedMessages }> => {
  const handled: Handled[] = [];
  const events: ConsumerEvent[] = [];
  const processed = new SqliteProcessedMessages(overrides.dbPath ?? join(tempDir('consumers-'), 'service.db'));
  const consumer = await startConsumer({
    url: vhost.url(),
    queue,
    schema: testMessageSchema,
    processed,
    retry: { attemptsMax: 3, backoffMsBase: 1, backoffMsMax: 4 },
    handle: async (m: TestMessage, { messageId, attempt, redelivered }: MessageContext<Database.Database>) =>
      void handled.push({ messageId, message: m, attempt, redelivered }),
    onEvent: (event) => events.push(event),
    ...overrides,
  });
  closers.push(async () => {
    await consumer.stop();
    await processed.close();
  });
  return { consumer, handled, events, processed };
};

/**
 * What a fresh consumer (with a fresh dedupe store) receives of `queue` up to a sentinel published now: the
 * messages no one acked or dead-lettered. Counts can not tell: the broker returns a closed channel's unacked
 * deliveries to a quorum queue asynchronously, but always ahead of a message published afterwards.
 */
const leftOver = async (queue: string): Promise<string[]> => {
  const { consumer, handled } = await start(queue);
  await publish(queue, message('sentinel'), `sentinel-${randomUUID()}`);
  await waitFor('the sentinel', () => handled.some((h) => h.message.userId === 'sentinel'));
  await consumer.stop();
  return handled.filter((h) => h.message.userId !== 'sentinel').map((h) => h.messageId);
};

describe('consumer kit against the real broker', () => {
  it('drops a duplicate messageId: the handler runs once, both deliveries are acked', async () => {
    const queue = await newQueue();
    const { consumer, handled, processed } = await start(queue);
    await publish(queue, message('u1'), 'evt-1');
    await publish(queue, message('u1', { amount: 99 }), 'evt-1'); // a re-publish after a relay crash
    await publish(queue, message('u2'), 'evt-2');
    await waitFor(
      'both ids handled and the duplicate dropped',
      () => consumer.stats.processed === 2 && consumer.stats.duplicates === 1,
    );
    expect(handled.map((h) => [h.messageId, h.message.amount])).toEqual([
      ['evt-1', 10],
      ['evt-2', 10],
    ]);
    expect(await processed.has('evt-1')).toBe(true);
    await consumer.stop();
    expect(await leftOver(queue)).toEqual([]); // nothing was left unacked to come back
    expect(await deadLettered(queue)).toEqual([]);
  });

  it('dead-letters poison messages (unparseable, schema-invalid, no messageId, a handler that always fails) and keeps the queue flowing', async () => {
    const queue = await newQueue();
    const failing = new Map<string, number>();
    const { consumer, handled, events } = await start(queue, {
      handle: async (m, { messageId }) => {
        if (m.userId === 'poison') {
          failing.set(messageId, (failing.get(messageId) ?? 0) + 1);
          throw new Error('this handler always fails on it');
        }
        handled.push({ messageId, message: m, attempt: 1, redelivered: false });
      },
    });
    await publish(queue, '{not json', 'bad-json');
    await publish(queue, { ...message('u1'), amount: -5 }, 'bad-schema');
    await publish(queue, message('u1'), undefined);
    await publish(queue, message('poison'), 'always-fails');
    await publish(queue, message('u1'), 'good-1');
    await publish(queue, message('u2'), 'good-2');
    await waitFor('the good messages after the poison', () => handled.length === 2);
    expect(handled.map((h) => h.messageId)).toEqual(['good-1', 'good-2']);
    expect(failing.get('always-fails')).toBe(3); // attemptsMax, then no more
    await waitFor('four dead letters in the dlq', async () => (await readyCount(`${queue}.dlq`)) === 4);
    expect(await deadLettered(queue)).toEqual(['bad-json', 'bad-schema', undefined, 'always-fails']);
    expect(consumer.stats.deadLettered).toBe(4);
    const reasons = events.flatMap((e) => (e.type === 'dead-lettered' ? [[e.messageId, e.reason]] : []));
    expect(reasons).toEqual([
      ['bad-json', 'invalid'],
      ['bad-schema', 'invalid'],
      [undefined, 'invalid'],
      ['always-fails', 'handler-failed'],
    ]);
    await consumer.stop();
    expect(await leftOver(queue)).toEqual([]);
  });

  it('retries a failing handler with backoff and acks once it succeeds, with nothing dead-lettered', async () => {
    const queue = await newQueue();
    const attempts: number[] = [];
    const { consumer, events, processed } = await start(queue, {
      retry: { attemptsMax: 5, backoffMsBase: 1, backoffMsMax: 8 },
      handle: async (_m, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error(`transient failure ${attempt}`);
      },
    });
    await publish(queue, message('u1'), 'flaky');
    await waitFor('the flaky message processed', () => consumer.stats.processed === 1);
    expect(attempts).toEqual([1, 2, 3]);
    expect(consumer.stats.retries).toBe(2);
    expect(events.flatMap((e) => (e.type === 'retrying' ? [e.delayMs] : []))).toEqual([1, 2]);
    expect(await processed.has('flaky')).toBe(true);
    await consumer.stop();
    expect(await leftOver(queue)).toEqual([]);
    expect(await deadLettered(queue)).toEqual([]);
  });

  it('rolls back what a failed attempt wrote through the transaction, so a retried handler writes once', async () => {
    const queue = await newQueue();
    const dbPath = join(tempDir('consumers-'), 'service.db');
    const setup = new Database(dbPath);
    setup.exec('CREATE TABLE credits (user_id TEXT, amount INTEGER)');
    setup.close();
    const { consumer, processed } = await start(queue, {
      dbPath,
      handle: async (m, { tx, attempt }) => {
        tx.prepare('INSERT INTO credits (user_id, amount) VALUES (?, ?)').run(m.userId, m.amount);
        if (attempt === 1) throw new Error('fails after writing');
      },
    });
    await publish(queue, message('u7', { amount: 42 }), 'write-once');
    await waitFor('processed', () => consumer.stats.processed === 1);
    expect(processed.db.prepare('SELECT user_id, amount FROM credits').all()).toEqual([{ user_id: 'u7', amount: 42 }]);
  });

  it('stops gracefully: the message being handled finishes and is acked, the prefetched ones go back to the queue', async () => {
    const queue = await newQueue();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const { consumer, events } = await start(queue, {
      handle: async (_m, { messageId }) => {
        started.push(messageId);
        if (messageId === 'slow') await gate;
      },
    });
    await publish(queue, message('u1'), 'slow');
    await publish(queue, message('u1'), 'next-1');
    await publish(queue, message('u1'), 'next-2');
    await waitFor('the slow handler started', () => started.length === 1);
    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await waitFor('stop under way', () => events.some((e) => e.type === 'stopping'));
    await publish(queue, message('u1'), 'during-stop'); // arrives while stopping: not handled, back to the queue
    expect(stopped).toBe(false); // the message in hand holds it
    release();
    await stopping;
    expect(started).toEqual(['slow']);
    expect(consumer.stats.processed).toBe(1);
    // next-1, next-2 and during-stop, never handled, are back; slow was acked.
    expect(await leftOver(queue)).toEqual(['next-1', 'next-2', 'during-stop']);
  });
});

describe('consumer kit with faults', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startTcpProxy(brokerHost, brokerPort);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('reconnects after its connection is cut, mid-handler too, and every message is handled exactly once', async () => {
    const queue = await newQueue();
    let release: (() => void) | undefined;
    const { consumer, handled, events, processed } = await start(queue, {
      url: vhost.url(proxy.port),
      reconnect: { delayMsInitial: 10, delayMsMax: 100 },
      handle: async (m, context) => {
        if (m.userId === 'cut-here' && !context.redelivered) await new Promise<void>((resolve) => (release = resolve));
        handled.push({ messageId: context.messageId, message: m, attempt: context.attempt, redelivered: context.redelivered });
      },
    });
    for (let i = 0; i < 5; i++) await publish(queue, message('u1'), `before-${i}`);
    await waitFor('the first five', () => consumer.stats.processed === 5);
    expect(proxy.cutAll()).toBe(1);
    await waitFor('a reconnect', () => consumer.stats.reconnects === 1);
    await publish(queue, message('cut-here'), 'in-flight');
    await waitFor('the handler holding in-flight', () => release !== undefined);
    proxy.cutAll(); // the delivery's channel dies while its handler runs: its ack can never be sent
    await waitFor('a second reconnect', () => consumer.stats.reconnects === 2);
    release?.(); // the first handling completes and commits; the broker redelivers the unacked message
    for (let i = 0; i < 5; i++) await publish(queue, message('u2'), `after-${i}`);
    await waitFor('all eleven ids', () => consumer.stats.processed === 11);
    // Acks still on the wire when a connection is cut are lost too: those messages come back as well, and
    // are dropped as duplicates like the one whose handler was running.
    const duplicates = () => events.flatMap((e) => (e.type === 'duplicate' ? [e.messageId] : []));
    await waitFor('the redelivered in-flight dropped as a duplicate', () => duplicates().includes('in-flight'));
    const ids = handled.map((h) => h.messageId);
    expect(ids.filter((id) => id === 'in-flight')).toHaveLength(1);
    expect(new Set(ids).size).toBe(11);
    expect(await processed.has('in-flight')).toBe(true);
    expect(events.filter((e) => e.type === 'disconnected')).toHaveLength(2);
    await consumer.stop();
    expect(await leftOver(queue)).toEqual([]);
  });

  it('consumes again after the broker cancelled it (its queue deleted), declaring the queue through `topology`', async () => {
    const queue = await newQueue();
    const { consumer, handled } = await start(queue, {
      reconnect: { delayMsInitial: 10, delayMsMax: 100 },
      topology: (ch) => declareQueueWithDlq(ch, queue),
    });
    await publish(queue, message('u1'), 'before-delete');
    await waitFor('the first message', () => consumer.stats.processed === 1);
    await channel.deleteQueue(queue);
    await waitFor('consuming again on a new connection', () => consumer.stats.reconnects === 1);
    await declareQueueWithDlq(channel, queue); // the same arguments: a no-op when the consumer declared it first
    await publish(queue, message('u1'), 'after-delete');
    await waitFor('the message on the declared-again queue', () => consumer.stats.processed === 2);
    expect(handled.map((h) => h.messageId)).toEqual(['before-delete', 'after-delete']);
  });

  it('hands a message back to the queue when the dedupe store fails, rather than dead-lettering it', async () => {
    const queue = await newQueue();
    const real = new SqliteProcessedMessages(join(tempDir('consumers-'), 'service.db'));
    closers.push(() => real.close());
    let storeFailuresLeft = 1;
    // The store, not the message, fails once (a locked or unreachable database).
    const flaky: ProcessedMessages<Database.Database> = {
      has: (id) => real.has(id),
      close: () => real.close(),
      processOnce: (id, handle) => {
        if (storeFailuresLeft-- > 0) return Promise.reject(new Error('database is locked'));
        return real.processOnce(id, handle);
      },
    };
    const { consumer, handled, events } = await start(queue, { processed: flaky });
    await publish(queue, message('u1'), 'store-blip');
    await waitFor('processed after the requeue', () => consumer.stats.processed === 1);
    expect(consumer.stats.requeued).toBe(1);
    expect(consumer.stats.deadLettered).toBe(0);
    expect(events.map((e) => e.type).filter((t) => t === 'requeued' || t === 'processed')).toEqual(['requeued', 'processed']);
    expect(handled.map((h) => [h.messageId, h.redelivered])).toEqual([['store-blip', true]]);
    expect(await deadLettered(queue)).toEqual([]);
  });

  it('gives up at start after the attempts it was allowed when no broker answers', async () => {
    const unreachable = await startTcpProxy(brokerHost, 1); // accepts, then every connection dies at once
    closers.push(() => unreachable.close());
    const events: ConsumerEvent[] = [];
    await expect(
      startConsumer({
        url: `amqp://guest:guest@127.0.0.1:${unreachable.port}/`,
        queue: 'never',
        schema: testMessageSchema,
        processed: new SqliteProcessedMessages(':memory:'),
        handle: async () => undefined,
        reconnect: { delayMsInitial: 1, delayMsMax: 2, attemptsMaxAtStart: 2 },
        onEvent: (event) => events.push(event),
      }),
    ).rejects.toBeInstanceOf(Error);
    expect(events.filter((e) => e.type === 'reconnect-scheduled')).toHaveLength(2);
  });

  it('acks only after success: a consumer killed mid-handler leaves the message to be redelivered and handled', async () => {
    const queue = await newQueue();
    const dbPath = join(tempDir('consumers-'), 'service.db');
    const script = join(import.meta.dirname, 'testing', 'consumerProcess.ts');
    const child: ChildProcessByStdio<null, Readable, null> = spawn(
      process.execPath,
      ['--import', 'tsx', script, vhost.url(), queue, dbPath],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const lines: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
    closers.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });
    await waitFor('the child consuming', () => lines.includes('consuming'), 30_000);
    await publish(queue, message('u1'), 'done-before');
    await publish(queue, message('u1', { hang: true }), 'killed-during');
    await waitFor('the child handling the hanging message', () => lines.includes('handling killed-during'));
    expect(lines).toContain('processed done-before');
    child.kill('SIGKILL');
    await once(child, 'exit');

    const { consumer, handled, processed } = await start(queue, {
      dbPath,
      handle: async (m, { messageId, attempt, redelivered }) =>
        void handled.push({ messageId, message: m, attempt, redelivered }),
    });
    await waitFor('the redelivered message handled', () => consumer.stats.processed === 1);
    expect(handled.map((h) => [h.messageId, h.redelivered])).toEqual([['killed-during', true]]);
    expect(await processed.has('done-before')).toBe(true); // committed by the killed process, not handled again
    await consumer.stop();
    expect(await leftOver(queue)).toEqual([]);
  });
});
