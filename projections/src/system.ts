import { join } from 'node:path';
import type { AccountCommandHandler } from '../../ledger/src/commandHandling/accountCommandHandler.js';
import type { EventStore } from '../../ledger/src/eventStore/eventStore.js';
import type { Clock } from '../../ledger/src/shared/clock.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import { SqliteReadModels } from './readModels/sqliteReadModels.js';
import { Projector, type ProjectorLogger, type ProjectorStatus } from './runtime/projector.js';
import { GigPaymentSettlement } from './settlement/gigPaymentSettlement.js';
import { ServiceReadModelsProjection } from './services/serviceReadModels.js';
import { BoostExpiryScheduler, type ExpiryOutcome } from './expiry/boostExpiry.js';

export interface Projections {
  readonly balances: AccountBalancesProjection;
  readonly services: ServiceReadModelsProjection;
  readonly expiry: BoostExpiryScheduler;
  readonly projectors: readonly Projector[];
  statuses(): Promise<ProjectorStatus[]>;
  /** Checks the read-model database answers. */
  ping(): Promise<void>;
  stop(): Promise<void>;
}

/** Every projector and reactor that exists, on one runtime, over the embedded read-model file. */
export const startProjections = (options: {
  store: EventStore;
  handler: AccountCommandHandler;
  clock: Clock;
  dataDir: string;
  logger?: ProjectorLogger;
  /** Called for every boost the scheduler expires (metrics: lateness). */
  onExpired?: (outcome: ExpiryOutcome) => void;
}): Projections => {
  const models = new SqliteReadModels(join(options.dataDir, 'readmodels.db'));
  const balances = new AccountBalancesProjection(models);
  const services = new ServiceReadModelsProjection(models);
  const settlement = new GigPaymentSettlement({
    models,
    handler: options.handler,
    clock: options.clock,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const expiry = new BoostExpiryScheduler({
    models,
    handler: options.handler,
    clock: options.clock,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.onExpired === undefined ? {} : { onExpired: options.onExpired }),
  });
  const projectors = [balances, services, settlement, expiry].map(
    (subscriber) => new Projector(options.store, subscriber, options.logger === undefined ? {} : { logger: options.logger }),
  );
  for (const projector of projectors) projector.start();
  expiry.start();
  return {
    balances,
    services,
    expiry,
    projectors,
    statuses: () => Promise.all(projectors.map((p) => p.status())),
    ping: () => {
      models.db.prepare('SELECT 1').get();
      return Promise.resolve();
    },
    stop: async () => {
      await expiry.stop();
      await Promise.all(projectors.map((p) => p.stop()));
      models.close();
    },
  };
};
