import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';

const run = promisify(execFile);

const freePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
};

const portOpen = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Looks up a user's uid/gid from /etc/passwd (rabbitmq-server started as root drops to the rabbitmq user). */
const userIds = async (name: string): Promise<{ uid: number; gid: number } | undefined> => {
  try {
    const { stdout } = await run('id', ['-u', name]);
    const { stdout: group } = await run('id', ['-g', name]);
    return { uid: Number(stdout.trim()), gid: Number(group.trim()) };
  } catch {
    return undefined;
  }
};

/**
 * A RabbitMQ node of the test's own: its own node name, AMQP and distribution ports, mnesia and log
 * directories, config (no management plugin), so stopping it never touches the machine's shared broker.
 */
export class BrokerNode {
  readonly nodeName = `rabbit-test-${randomUUID().slice(0, 8)}@localhost`;
  readonly dir = mkdtempSync(join(tmpdir(), 'rabbit-node-'));
  port = 0;
  #distPort = 0;
  #process: ChildProcess | undefined;

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 120_000): Promise<void> {
    if (this.port === 0) {
      this.port = await freePort();
      this.#distPort = await freePort();
      mkdirSync(join(this.dir, 'mnesia'), { recursive: true });
      mkdirSync(join(this.dir, 'log'), { recursive: true });
      writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
      writeFileSync(join(this.dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${this.port}\n`);
      const owner = await userIds('rabbitmq');
      if (owner !== undefined && process.getuid?.() === 0) {
        for (const path of ['', 'mnesia', 'log', 'enabled_plugins', 'rabbitmq.conf'])
          chownSync(join(this.dir, path), owner.uid, owner.gid);
      }
    }
    const child = spawn('rabbitmq-server', [], {
      cwd: this.dir,
      stdio: 'ignore',
      env: {
        ...process.env,
        RABBITMQ_NODENAME: this.nodeName,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.#distPort),
        RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(this.dir, 'log'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
        RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq'),
        RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      },
    });
    this.#process = child;
    const deadline = Date.now() + timeoutMs;
    while (!(await portOpen(this.port))) {
      if (child.exitCode !== null) throw new Error(`rabbitmq-server exited with ${child.exitCode}; logs in ${this.dir}/log`);
      if (Date.now() > deadline) throw new Error(`broker node ${this.nodeName} not listening after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** A clean shutdown of this node only (`rabbitmqctl -n <its name> stop`). */
  async stop(): Promise<void> {
    const child = this.#process;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    try {
      await run('rabbitmqctl', ['-n', this.nodeName, 'stop'], { timeout: 60_000 });
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
    this.#process = undefined;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
