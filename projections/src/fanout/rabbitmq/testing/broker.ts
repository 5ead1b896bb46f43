import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { connect, type ConsumeMessage } from 'amqplib';

const run = promisify(execFile);

/** The shared broker the tests use (never restarted by them). */
export const brokerUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A vhost of the test's own on the shared broker, deleted by `remove`. */
export const createVhost = async (): Promise<{ vhost: string; url: (port?: number) => string; remove: () => Promise<void> }> => {
  const vhost = `test-fanout-${randomUUID()}`;
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  const base = new URL(brokerUrl);
  return {
    vhost,
    url: (port?: number) => {
      const url = new URL(base.toString());
      if (port !== undefined) url.port = String(port);
      url.pathname = `/${encodeURIComponent(vhost)}`;
      return url.toString();
    },
    remove: async () => {
      await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]);
    },
  };
};

export interface Received {
  readonly messageId: string;
  readonly type: string;
  readonly body: Record<string, unknown>;
  readonly message: ConsumeMessage;
}

/** Reads a queue until `count` messages arrived (or `timeoutMs` passed), acking each. */
export const readQueue = (url: string, queue: string, count: number, timeoutMs = 20_000): Promise<Received[]> =>
  collectQueue(url, queue, (received) => received.length >= count, timeoutMs, `${count} messages`);

/** Reads a queue until every one of `ids` arrived at least once (repeats are kept, for the caller to check). */
export const readUntilAll = (url: string, queue: string, ids: readonly string[], timeoutMs = 60_000): Promise<Received[]> =>
  collectQueue(url, queue, hasAll(ids), timeoutMs, `all ${ids.length} messageIds`);

/** True once every one of `ids` is among the received messages. */
export const hasAll =
  (ids: readonly string[]) =>
  (received: readonly Received[]): boolean => {
    const seen = new Set(received.map((r) => r.messageId));
    return ids.every((id) => seen.has(id));
  };

/** Reads a queue until `done(received)` holds (or `timeoutMs` passed), acking each. */
export const collectQueue = async (
  url: string,
  queue: string,
  done: (received: readonly Received[]) => boolean,
  timeoutMs = 20_000,
  what = 'the expected messages',
): Promise<Received[]> => {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(500);
    const received: Received[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${queue}: ${received.length} messages, not ${what}, after ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (done(received)) {
        clearTimeout(timer);
        resolve();
        return;
      }
      void channel.consume(queue, (message) => {
        if (message === null) return;
        received.push({
          messageId: String(message.properties.messageId),
          type: String(message.properties.type),
          body: JSON.parse(message.content.toString()) as Record<string, unknown>,
          message,
        });
        channel.ack(message);
        if (done(received)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return received;
  } finally {
    await connection.close();
  }
};

/** Messages waiting in a queue, as the broker counts them. */
export const queueDepth = async (url: string, queue: string): Promise<number> => {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
};

/** A TCP proxy in front of the broker that can cut every connection through it, or refuse new ones. */
export const startProxy = async (
  targetPort: number,
  listenPort = 0,
): Promise<{ port: number; cut: () => void; close: () => Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    cut: () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
