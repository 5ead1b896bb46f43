import type { AccountCommandHandler, Clock, EventStore } from '../../ledger/src/index.js';
import { AuditIndexProjection } from './audit/auditIndex.js';
import { AccountBalancesProjection } from './balances/accountBalances.js';
import { BoostExpiryScheduler } from './expiry/boostExpiryScheduler.js';
import type { RelayMetrics } from './fanout/rabbitmq/rabbitMqRelay.js';
import { relayCheckpointOf } from './fanout/relayCheckpoint.js';
import type { ReadModelStore } from './readModels/readModelStore.js';
import { versionedCheckpointName } from './readModels/versionedProjection.js';
import { lagBehind, type ProjectorStatus } from './runtime/subscriber.js';
import { GigPaymentSettlement } from './settlement/gigPaymentSettlement.js';
import { ServiceReadModelsProjection } from './services/serviceReadModels.js';

/** Limits of reading the projections from another process, in one place. */
export const projectionReadsLimits = {
  /** How often a wait for a projection to catch up reads its checkpoint again. */
  catchUpPollMs: 20,
} as const;

/**
 * What the API reads of the projections: the read models' queries, each projection's status, pending
 * expiries. `startProjections` (the workers in this process) gives it, and so does
 * `openProjectionReads` (the workers in another process, over the same stores).
 */
export interface ProjectionReads {
  readonly balances: Pick<AccountBalancesProjection, 'name' | 'balanceOf'>;
  readonly services: ServiceReadModelsProjection;
  readonly expiry: Pick<BoostExpiryScheduler, 'pendingCount'>;
  /** The audit index's lookups (the audit trace routes). */
  readonly audit: Pick<AuditIndexProjection, 'name' | 'lookup'>;
  statuses(): Promise<ProjectorStatus[]>;
  /** Resolves once the named projection has handled the log up to its head as of the call; rejects after `timeoutMs`. */
  waitUntilCaughtUp(name: string, timeoutMs: number): Promise<void>;
  /**
   * The RabbitMQ relay's counters and whether it can publish, as last known here: undefined when no
   * relay runs, or the process that runs it has not reported it (yet).
   */
  relay(): RelayMetrics | undefined;
  /** Checks the read-model database answers. */
  ping(): Promise<void>;
}

/** What a projection process last said about itself, beyond what the stores show (retries, errors). */
export type ReportedStatus = Pick<
  ProjectorStatus,
  'name' | 'state' | 'retries' | 'stallRestarts' | 'lastError' | 'handledEvents' | 'failedOn'
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
  /** The relay's metrics as the workers process last reported them. */
  reportedRelay?: () => RelayMetrics | undefined;
  /** Whether a RabbitMQ relay runs (AMQP_URL is set): its status is read from its checkpoint in the event store. */
  relay?: boolean;
}): ProjectionReads => {
  const models = options.readModels;
  const balances = new AccountBalancesProjection(models);
  const services = new ServiceReadModelsProjection(models);
  // Built only to name their checkpoints and count pending expiries: never started here.
  const settlement = new GigPaymentSettlement({ store: models, handler: options.handler, clock: options.clock });
  const expiry = new BoostExpiryScheduler({ store: models, handler: options.handler, clock: options.clock });
  const audit = new AuditIndexProjection(models);
  const relayCheckpoint = relayCheckpointOf(options.store);
  const checkpoints: readonly (readonly [string, () => Promise<number>])[] = [
    [balances.name, async () => models.checkpoint(versionedCheckpointName(balances.name, await balances.readingVersion()))],
    [services.name, async () => models.checkpoint(versionedCheckpointName(services.name, await services.readingVersion()))],
    [settlement.name, () => models.checkpoint(settlement.name)],
    [expiry.name, () => models.checkpoint(expiry.name)],
    [audit.name, () => models.checkpoint(audit.name)],
    // The relay keeps its checkpoint with the log (a side record), not in the read-model store.
    ...(options.relay === true ? [['rabbitmq_relay', async () => (await relayCheckpoint.load()) ?? 0] as const] : []),
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
          failedOn: own?.failedOn,
        };
      }),
    );
  };

  const waitUntilCaughtUp = async (name: string, timeoutMs: number): Promise<void> => {
    const entry = checkpoints.find(([n]) => n === name);
    if (entry === undefined) throw new Error(`no projection named ${name}`);
    const head = await options.store.headPosition();
    // Operational polling of another process's progress, against the machine's clock on purpose.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const checkpoint = await entry[1]();
      if (checkpoint >= head) return;
      if (Date.now() >= deadline) throw new Error(`${name}: not at ${head} after ${timeoutMs} ms (at ${checkpoint})`);
      await new Promise((resolve) => setTimeout(resolve, projectionReadsLimits.catchUpPollMs));
    }
  };

  return {
    balances,
    services,
    expiry,
    audit,
    statuses,
    waitUntilCaughtUp,
    relay: () => options.reportedRelay?.(),
    ping: () => models.ping(),
  };
};
