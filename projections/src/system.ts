import { type AccountCommandHandler, type EventStore, type Clock } from '../../ledger/src/index.js';
import { AuditIndexProjection } from './audit/auditIndex.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import type { ReadModelStore } from './readModels/readModelStore.js';
import { Projector } from './runtime/projector.js';
import type { ProjectorLogger, ProjectorStatus, Subscriber } from './runtime/subscriber.js';
import { SharedLogReader } from './runtime/sharedLog.js';
import { GigPaymentSettlement } from './settlement/gigPaymentSettlement.js';
import { ServiceReadModelsProjection } from './services/serviceReadModels.js';
import { BoostExpiryScheduler, type ExpiryOutcome } from './expiry/boostExpiryScheduler.js';
import { startDigestSchedule, type DigestSchedule } from './audit/auditDigests.js';
import { RabbitMqRelay, type RelayMetrics } from './fanout/rabbitmq/rabbitMqRelay.js';
import { relayCheckpointOf } from './fanout/relayCheckpoint.js';
import type { ProjectionReads } from './projectionReads.js';

/** How long stopping waits for the relay's batch in flight before closing its connection. */
const relayStopGraceMs = 5_000;

/** The RabbitMQ relay as the runtime sees it: a subscriber that can say whether the broker is reachable. */
export type RelaySubscriber = Subscriber & {
  close(): Promise<void>;
  ready(): Promise<void>;
  metrics(): RelayMetrics;
};

export interface Projections extends ProjectionReads {
  readonly readModels: ReadModelStore;
  readonly balances: AccountBalancesProjection;
  readonly services: ServiceReadModelsProjection;
  readonly expiry: BoostExpiryScheduler;
  /** Where each request's, boost's, transfer's and boost target's events are (the audit routes' lead). */
  readonly audit: AuditIndexProjection;
  readonly projectors: readonly Projector[];
  /** The one reader of the log the projectors share (the embedded store), undefined when each reads on its own. */
  readonly sharedLog: SharedLogReader | undefined;
  /** The relay, when one runs here. */
  readonly relaySubscriber: RelaySubscriber | undefined;
  statuses(): Promise<ProjectorStatus[]>;
  /** Checks the read-model database answers. */
  ping(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartProjectionsOptions {
  store: EventStore;
  readModels: ReadModelStore;
  handler: AccountCommandHandler;
  clock: Clock;
  logger?: ProjectorLogger;
  /** Called for every boost the scheduler expires (metrics: lateness). */
  onExpired?: (outcome: ExpiryOutcome) => void;
  /** The RabbitMQ relay (fanout/), when AMQP_URL is set: one more subscriber, closed on stop. */
  relay?: RelaySubscriber;
  /** The signed audit digests to take on a schedule (AUDIT_DIGEST_EVERY), stopped on stop. */
  digests?: DigestSchedule;
  /**
   * Whether the projectors share one reader of the log (default: on the embedded store). EventStoreDB
   * pushes to each subscription and shares its reads in the server, so there each keeps its own.
   * False only to measure what sharing saves.
   */
  shareLogReads?: boolean;
}

/**
 * Every projector and reactor that exists, on one runtime, over the given read-model store (which it
 * then owns and closes on stop).
 */
export const startProjections = (options: StartProjectionsOptions): Projections => {
  const models = options.readModels;
  const balances = new AccountBalancesProjection(models);
  const services = new ServiceReadModelsProjection(models);
  const settlement = new GigPaymentSettlement({
    store: models,
    handler: options.handler,
    clock: options.clock,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const expiry = new BoostExpiryScheduler({
    store: models,
    handler: options.handler,
    clock: options.clock,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.onExpired === undefined ? {} : { onExpired: options.onExpired }),
  });
  const audit = new AuditIndexProjection(models);
  const sharedLog = (options.shareLogReads ?? options.store.engine === 'sqlite') ? new SharedLogReader(options.store) : undefined;
  const projectors = [balances, services, settlement, expiry, audit, ...(options.relay === undefined ? [] : [options.relay])].map(
    (subscriber) =>
      new Projector(options.store, subscriber, {
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        ...(sharedLog === undefined ? {} : { sharedLog }),
      }),
  );
  for (const projector of projectors) projector.start();
  expiry.start();
  const stopDigests =
    options.digests === undefined
      ? () => Promise.resolve()
      : startDigestSchedule({
          ...options.digests,
          store: options.store,
          clock: options.clock,
          log: options.logger ?? { info: () => undefined, error: () => undefined },
        });
  const projectorNamed = (name: string): Projector => {
    const found = projectors.find((p) => p.name === name);
    if (found === undefined) throw new Error(`no projection named ${name}`);
    return found;
  };
  return {
    readModels: models,
    balances,
    services,
    expiry,
    audit,
    projectors,
    sharedLog,
    relaySubscriber: options.relay,
    statuses: () => Promise.all(projectors.map((p) => p.status())),
    waitUntilCaughtUp: (name, timeoutMs) => projectorNamed(name).waitUntilCaughtUp(timeoutMs),
    relay: () => options.relay?.metrics(),
    ping: () => models.ping(),
    stop: async () => {
      await stopDigests();
      await expiry.stop();
      // The relay's batch in flight gets a grace period for its confirms, then the connection closes under it
      // (its checkpoint is not saved, so those messages are published again after the restart).
      const stopped = Promise.all(projectors.map((p) => p.stop()));
      if (options.relay !== undefined) {
        await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, relayStopGraceMs).unref())]);
        await options.relay.close();
      }
      await stopped;
      sharedLog?.close();
      await models.close();
    },
  };
};

/**
 * Everything the workers run, as `npm run workers` (and `npm start` with LEDGER_WORKERS=inline) start
 * it: the projections, plus the RabbitMQ relay when `amqpUrl` is set (an unreachable broker is retried,
 * never fatal) and the audit digest schedule when `digests` is given.
 */
export const startWorkers = async (
  options: Omit<StartProjectionsOptions, 'relay'> & { amqpUrl?: string | undefined },
): Promise<Projections> => {
  const relay =
    options.amqpUrl === undefined
      ? undefined
      : new RabbitMqRelay({
          url: options.amqpUrl,
          checkpoint: relayCheckpointOf(options.store),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        });
  await relay?.start();
  const { amqpUrl: _, ...rest } = options;
  return startProjections({ ...rest, ...(relay === undefined ? {} : { relay }) });
};
