/**
 * Runs one of the seed's services as a consumer of its queue (shared by userServiceConsumer.ts,
 * gigServiceConsumer.ts and clanServiceConsumer.ts): its own SQLite store with the seed's
 * `<service>_boost_events` / `<service>_credit_events` tables and its figures folded by the projections'
 * code, each message exactly once. Ctrl-C stops gracefully.
 */
import { z } from 'zod';
import { startServiceConsumer, type ServiceName } from '../src/index.js';

export const runServiceConsumer = async (service: ServiceName): Promise<void> => {
  const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const database = process.env.DB ?? `./data/${service}-service.db`;
  const running = await startServiceConsumer({
    url,
    service,
    database,
    prefetch: 32,
    retry: { attemptsMax: 5, backoffMsBase: 200, backoffMsMax: 5_000 },
    onEvent: (event) => {
      const detail = (error: unknown): string =>
        error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : String(error);
      const line = 'error' in event ? `${event.type} ${JSON.stringify(event)} ${detail(event.error)}` : JSON.stringify(event);
      process.stdout.write(`${line}\n`);
    },
  });
  process.stdout.write(`${service} service consuming into ${database}\n`);
  const shutdown = (): void => {
    running
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        process.stderr.write(`${String(error)}\n`);
        process.exit(1);
      });
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
};
