import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const rabbitmqctlTimeoutMs = 60_000;

const rabbitmqctl = async (...args: string[]): Promise<void> => {
  await run('rabbitmqctl', args, { timeout: rabbitmqctlTimeoutMs });
};

/** The shared broker; tests never stop or restart it, they only add and delete their own vhost. */
export const brokerHost = '127.0.0.1';
export const brokerPort = 5672;

export interface TestVhost {
  readonly name: string;
  /** amqp URL for this vhost, through `port` (a proxy's) when given. */
  url(port?: number): string;
  delete(): Promise<void>;
}

/** A fresh vhost on the shared broker, guest allowed everything in it; `delete()` removes it and all its queues. */
export const createVhost = async (): Promise<TestVhost> => {
  const name = `kit-test-${randomUUID().slice(0, 8)}`;
  await rabbitmqctl('add_vhost', name);
  await rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*');
  return {
    name,
    url: (port = brokerPort) => `amqp://guest:guest@${brokerHost}:${port}/${encodeURIComponent(name)}`,
    delete: () => rabbitmqctl('delete_vhost', name),
  };
};
