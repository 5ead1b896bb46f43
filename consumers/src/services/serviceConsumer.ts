import type Database from 'better-sqlite3';
import { ledgerMessageSchema } from '../../../projections/src/index.js';
import { startConsumer, type Consumer, type ConsumerEvent } from '../rabbitmq/consumer.js';
import type { RetryPolicy } from '../retry.js';
import { declareRelayTopology } from '../rabbitmq/relayTopology.js';
import { SqliteProcessedMessages } from '../sqlite/sqliteProcessedMessages.js';
import { ServiceStore, services, type ServiceName } from './serviceStore.js';

export interface ServiceConsumerOptions {
  /** amqp://user:pass@host:port/vhost */
  readonly url: string;
  readonly service: ServiceName;
  /** The service's SQLite file, or its open connection (then the service closes it). */
  readonly database: string | Database.Database;
  readonly prefetch?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly reconnect?: { readonly delayMsInitial?: number; readonly delayMsMax?: number };
  readonly onEvent?: (event: ConsumerEvent) => void;
}

export interface ServiceConsumer {
  readonly consumer: Consumer;
  readonly store: ServiceStore;
  /** Stops consuming (the message in hand finishes), then closes the store. */
  stop(): Promise<void>;
}

/**
 * One of the seed's services consuming its queue with the kit: the relay's topology declared first (the
 * same data and function the relay uses), every message validated with the relay's schema
 * (`ledgerMessageSchema`; a message that fails it is dead-lettered), the messages the service handles
 * filed and folded into its store, and the messageId recorded in the same SQLite transaction.
 */
export const startServiceConsumer = async (options: ServiceConsumerOptions): Promise<ServiceConsumer> => {
  const store = new ServiceStore(options.service, options.database);
  const processed = new SqliteProcessedMessages(store.db);
  let consumer: Consumer;
  try {
    consumer = await startConsumer({
      url: options.url,
      queue: services[options.service].queue,
      schema: ledgerMessageSchema,
      processed,
      topology: declareRelayTopology,
      handle: async (message) => {
        store.apply(message); // a type the service does not handle: nothing written, acked all the same
      },
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch }),
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    });
  } catch (error) {
    store.close();
    throw error;
  }
  return {
    consumer,
    store,
    stop: async () => {
      await consumer.stop();
      await processed.close();
      store.close();
    },
  };
};
