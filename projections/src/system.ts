import { type AccountCommandHandler, type EventStore, type Clock } from '../../ledger/src/index.js';
import { AuditIndexProjection } from './audit/auditIndex.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import type { ReadModelStore } from './readModels/readModelStore.js';
import { Projector, type ProjectorLogger, type ProjectorStatus, type Subscriber } from './runtime/projector.js';
import { GigPaymentSettlement } from './settlement/gigPaymentSettlement.js';
import { ServiceReadModelsProjection } from './services/serviceReadModels.js';
import { BoostExpiryScheduler, type ExpiryOutcome } from './expiry/boostExpiryScheduler.js';

/** How long stopping waits for the relay's batch in flight before closing its connection. */
const relayStopGraceMs = 5_000;

export interface Projections {
  readonly readModels: ReadModelStore;
  readonly balances: AccountBalancesProjection;
  readonly services: ServiceReadModelsProjection;
  readonly expiry: BoostExpiryScheduler;
  /** Where each request's, boost's, transfer's and boost target's events are (the audit routes' lead). */
  readonly audit: AuditIndexProjection;
  readonly projectors: readonly Projector[];
  statuses(): Promise<ProjectorStatus[]>;
  /** Checks the read-model database answers. */
  ping(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Every projector and reactor that exists, on one runtime, over the given read-model store (which it
 * then owns and closes on stop).
 */
export const startProjections = (options: {
  store: EventStore;
  readModels: ReadModelStore;
  handler: AccountCommandHandler;
  clock: Clock;
  logger?: ProjectorLogger;
  /** Called for every boost the scheduler expires (metrics: lateness). */
  onExpired?: (outcome: ExpiryOutcome) => void;
  /** The RabbitMQ relay (fanout/), when AMQP_URL is set: one more subscriber, closed on stop. */
  relay?: Subscriber & { close(): Promise<void> };
}): Projections => {
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
  const projectors = [balances, services, settlement, expiry, audit, ...(options.relay === undefined ? [] : [options.relay])].map(
    (subscriber) => new Projector(options.store, subscriber, options.logger === undefined ? {} : { logger: options.logger }),
  );
  for (const projector of projectors) projector.start();
  expiry.start();
  return {
    readModels: models,
    balances,
    services,
    expiry,
    audit,
    projectors,
    statuses: () => Promise.all(projectors.map((p) => p.status())),
    ping: () => models.ping(),
    stop: async () => {
      await expiry.stop();
      // The relay's batch in flight gets a grace period for its confirms, then the connection closes under it
      // (its checkpoint is not saved, so those messages are published again after the restart).
      const stopped = Promise.all(projectors.map((p) => p.stop()));
      if (options.relay !== undefined) {
        await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, relayStopGraceMs).unref())]);
        await options.relay.close();
      }
      await stopped;
      await models.close();
    },
  };
};
