import type { AccountCommandHandler } from '../../ledger/src/commandHandling/accountCommandHandler.js';
import type { EventStore } from '../../ledger/src/eventStore/eventStore.js';
import type { Clock } from '../../ledger/src/shared/clock.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import { BoostExpiryScheduler } from './expiry/boostExpiry.js';
import type { ReadModelStore } from './readModels/readModelStore.js';
import { lagBehind, type ProjectorStatus } from './runtime/projector.js';
import { GigPaymentSettlement } from './settlement/gigPaymentSettlement.js';
import { ServiceReadModelsProjection } from './services/serviceReadModels.js';

/**
 * What the API reads of the projections: the read models' queries, each projection's status, pending
 * expiries. `startProjections` (the workers in this process) gives it, and so does
 * `openProjectionReads` (the workers in another process, over the same stores).
 */
export interface ProjectionReads {
  readonly balances: Pick<AccountBalancesProjection, 'name' | 'balanceOf'>;
  readonly services: ServiceReadModelsProjection;
  readonly expiry: Pick<BoostExpiryScheduler, 'pendingCount'>;
  statuses(): Promise<ProjectorStatus[]>;
  /** Checks the read-model database answers. */
  ping(): Promise<void>;
}

/** What a projection process last said about itself, beyond what the stores show (retries, errors). */
export type ReportedStatus = Pick<
  ProjectorStatus,
  'name' | 'state' | 'retries' | 'stallRestarts' | 'lastError' | 'handledEvents'
>;

/**
 * The projections as seen from a process that does not run them (`npm start`'s API process, whose
 * workers run in a second process, or `npm run gateway`): queries on the shared read-model store, and
 * statuses from the checkpoints committed there against the head of the log. Nothing here writes a
 * read model or appends an event. The read-model store is the caller's to close.
 */
export const openProjectionReads = (options: {
  store: EventStore;
  readModels: ReadModelStore;
  handler: AccountCommandHandler;
  clock: Clock;
  /** The latest statuses the workers process reported, if it reports them (for retries and errors). */
  reported?: () => readonly ReportedStatus[];
}): ProjectionReads => {
  const models = options.readModels;
  const balances = new AccountBalancesProjection(models);
  const services = new ServiceReadModelsProjection(models);
  // Built only to name their checkpoints and count pending expiries: never started here.
  const settlement = new GigPaymentSettlement({ store: models, handler: options.handler, clock: options.clock });
  const expiry = new BoostExpiryScheduler({ store: models, handler: options.handler, clock: options.clock });
  const checkpoints: readonly (readonly [string, () => Promise<number>])[] = [
    [balances.name, async () => models.checkpoint(`${balances.name}@v${await balances.readingVersion()}`)],
    [services.name, async () => models.checkpoint(`${services.name}@v${await services.readingVersion()}`)],
    [settlement.name, () => models.checkpoint(settlement.name)],
    [expiry.name, () => models.checkpoint(expiry.name)],
  ];
  // A projection counts as caught up once its checkpoint reaches the head seen when it was first asked
  // about (under steady traffic the head moves on, and "level with the log right now" may never be seen).
  const firstHead = new Map<string, number>();
  const caughtUpOnce = new Set<string>();
  // Since when each projection has been behind at the checkpoint it has now: its lag in ms, as seen from here.
  const behindSince = new Map<string, { checkpoint: number; sinceMs: number }>();

  const statuses = async (): Promise<ProjectorStatus[]> => {
    const head = await options.store.headPosition();
    // Operational telemetry, against the machine's clock on purpose (as the projector's own lag).
    const nowMs = Date.now();
    const reported = new Map((options.reported?.() ?? []).map((r) => [r.name, r]));
    return Promise.all(
      checkpoints.map(async ([name, load]) => {
        const checkpoint = await load();
        const lagEvents = lagBehind(head, checkpoint);
        if (!firstHead.has(name)) firstHead.set(name, head);
        if (lagEvents === 0 || checkpoint >= (firstHead.get(name) ?? head)) caughtUpOnce.add(name);
        let lagMs = 0;
        if (lagEvents === 0) behindSince.delete(name);
        else {
          const since = behindSince.get(name);
          if (since === undefined || since.checkpoint !== checkpoint) behindSince.set(name, { checkpoint, sinceMs: nowMs });
          else lagMs = nowMs - since.sinceMs;
        }
        const own = reported.get(name);
        return {
          name,
          state: own?.state ?? (lagEvents === 0 ? 'live' : 'catching-up'),
          checkpoint,
          head,
          lagEvents,
          lagMs,
          caughtUpOnce: caughtUpOnce.has(name),
          handledEvents: own?.handledEvents ?? 0,
          retries: own?.retries ?? 0,
          stallRestarts: own?.stallRestarts ?? 0,
          lastError: own?.lastError,
        };
      }),
    );
  };

  return { balances, services, expiry, statuses, ping: () => models.ping() };
};
