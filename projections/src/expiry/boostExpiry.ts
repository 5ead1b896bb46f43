import { accountEventOf } from '../../../ledger/src/accounts/accountEvent.js';
import type { AccountCommandHandler } from '../../../ledger/src/commandHandling/accountCommandHandler.js';
import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import type { Clock } from '../../../ledger/src/shared/clock.js';
import { ReadModelStoreUnavailableError } from '../readModels/errors.js';
import type { CollectionSpec, ReadModelStore, StoredDoc, Write } from '../readModels/readModelStore.js';
import type { ProjectorLogger, Subscriber } from '../runtime/projector.js';

/** Limits of the expiry scheduler, in one place. */
export const expiryLimits = {
  /** Most due boosts expired per round. */
  dueBatchMax: 1000,
  /** Commands in flight at once while expiring a round. */
  concurrencyMax: 64,
  /** Longest sleep between rounds, so a clock that jumps (or a missed timer) is noticed soon. */
  idleSleepMsMax: 1000,
  /** First and last pause after a failed round (doubling in between), so a locked or unreachable store is not hammered. */
  retryBackoffMsMin: 100,
  retryBackoffMsMax: 10_000,
} as const;

/** The durable pending set: one document per active boost, keyed by booster, boost id and due time (`pendingId`). */
export const pendingExpiries: CollectionSpec = {
  name: 'pending_expiries',
  database: 'ledger',
  indexes: [
    [
      ['dueAtMs', 1],
      ['_id', 1],
    ],
  ],
};

export interface ExpiryOutcome {
  readonly boostId: string;
  readonly userId: string;
  readonly dueAt: string;
  /** How late the expiry was appended relative to its due time, in ms (0 or more). */
  readonly latenessMs: number;
  /** True when this scheduler appended the BoostExpired; false when it was already there (another scheduler, a repeat). */
  readonly appended: boolean;
}

/**
 * Boost expiry as an event. As a projection it keeps the durable pending set (`pending_expiries`:
 * one document per active boost with its due time, committed with its checkpoint),
 * so a restart does not replay history. As a scheduler, each round asks that collection — not memory — for
 * what is due at the injected clock's `now` and sends ExpireBoost through the command handler. The
 * command's idempotency key is derived from the boost id, so two schedulers racing, or a round
 * repeated after a crash, append one BoostExpired per boost. Memory stays bounded by one round.
 */
export class BoostExpiryScheduler implements Subscriber {
  readonly name = 'boost_expiry';
  readonly #store: ReadModelStore;
  readonly #handler: AccountCommandHandler;
  readonly #clock: Clock;
  readonly #log: ProjectorLogger | undefined;
  readonly #onExpired: ((outcome: ExpiryOutcome) => void) | undefined;
  #ready: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (`performance.now()` time), while one is pending. */
  #timerAt: number | undefined;
  /** After failed rounds, no round before this (`performance.now()` time), whatever wakes the scheduler. */
  #backoffUntil = 0;
  #running = false;
  /** Not started, or `stop` was called: no new round, and a timer round ends after its commands in flight. */
  #stopped = true;
  #round: Promise<void> | undefined;
  /** Rounds failed (or stuck) in a row: the pause before the next one doubles with each. */
  #failedRounds = 0;

  constructor(options: {
    store: ReadModelStore;
    handler: AccountCommandHandler;
    clock: Clock;
    logger?: ProjectorLogger;
    onExpired?: (outcome: ExpiryOutcome) => void;
  }) {
    this.#store = options.store;
    this.#handler = options.handler;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#onExpired = options.onExpired;
  }

  #ensured(): Promise<void> {
    // A failure (the store locked or unreachable at start) is not remembered: the next call tries again.
    this.#ready ??= this.#store.ensureCollection(pendingExpiries).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  // ---- the projection half: the durable pending set ----

  async loadCheckpoint(): Promise<number> {
    await this.#ensured();
    return this.#store.checkpoint(this.name);
  }

  async handle(batch: readonly RecordedEvent[]): Promise<void> {
    await this.#ensured();
    const applied = await this.#store.checkpoint(this.name);
    const writes: Write[] = [];
    for (const recorded of batch) {
      if (recorded.position <= applied) continue;
      if (recorded.type !== 'BoostActivated' && recorded.type !== 'BoostExpired') continue;
      const decoded = accountEventOf(recorded);
      if (decoded === undefined) continue;
      const { userId, event } = decoded;
      if (event.type === 'BoostActivated') {
        const { boostId, expiresAt } = event.data;
        writes.push({
          op: 'insert',
          collection: pendingExpiries.name,
          id: pendingId(userId, boostId, expiresAt),
          doc: { userId, boostId, dueAtMs: Date.parse(expiresAt), dueAt: expiresAt },
        });
      } else if (event.type === 'BoostExpired') {
        writes.push({
          op: 'delete',
          collection: pendingExpiries.name,
          id: pendingId(userId, event.data.boostId, event.data.dueAt),
        });
      }
    }
    const last = batch[batch.length - 1];
    if (last !== undefined && last.position > applied)
      await this.#store.commit(writes, { name: this.name, position: last.position });
    // New boosts may be due sooner than the current sleep.
    this.#wake();
  }

  async pendingCount(): Promise<number> {
    await this.#ensured();
    return this.#store.count(pendingExpiries.name);
  }

  // ---- the scheduler half ----

  /**
   * One round: expires every boost due at the clock's `now`, `dueBatchMax` at a time.
   * Tests call it after moving the clock; `start` calls it on a timer.
   */
  async expireDue(): Promise<ExpiryOutcome[]> {
    return (await this.#expireRound(false)).outcomes;
  }

  /**
   * One round, and whether it was stuck: it found boosts due and could expire none of them.
   * `stoppable`: a timer-driven round, which `stop()` ends early (a round asked for by a caller runs
   * to its end).
   */
  async #expireRound(stoppable: boolean): Promise<{ outcomes: ExpiryOutcome[]; stuck: boolean }> {
    const stopped = (): boolean => stoppable && this.#stopped;
    const outcomes: ExpiryOutcome[] = [];
    const now = this.#clock.now();
    // Pages through everything due, past rows that cannot be expired yet, so that those never hold
    // up the ones behind them.
    let after: [number, string] | undefined;
    let unexpirable = 0;
    for (;;) {
      await this.#ensured();
      const due = (
        await this.#store.find(pendingExpiries.name, {
          where: { dueAtMs: { lte: now.toMillis() } },
          orderBy: [
            ['dueAtMs', 1],
            ['_id', 1],
          ],
          limit: expiryLimits.dueBatchMax,
          ...(after === undefined ? {} : { after }),
        })
      ).map(toPending);
      const last = due[due.length - 1];
      if (last === undefined) break;
      after = [last.dueAtMs, last.id];
      let index = 0;
      let failure: { error: unknown } | undefined;
      const done: string[] = []; // pending ids
      const worker = async (): Promise<void> => {
        // A failure or a stop ends every worker's loop, and the round waits for all of them: no
        // command is left running behind a round that has ended (or a store that stop() closes).
        while (index < due.length && failure === undefined && !stopped()) {
          const row = due[index++];
          if (row === undefined) return;
          try {
            const outcome = await this.#expire(row.userId, row.boostId, row.dueAt, row.dueAtMs);
            if (outcome === undefined) continue;
            done.push(row.id);
            outcomes.push(outcome);
            this.#onExpired?.(outcome);
          } catch (error) {
            failure ??= { error };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(expiryLimits.concurrencyMax, due.length) }, worker));
      // The projection removes expired boosts from the pending set when it sees their BoostExpired;
      // until then, remove the ones this round settled so the next round does not ask again.
      await this.#store.commit(done.map((id) => ({ op: 'delete', collection: pendingExpiries.name, id })));
      if (failure !== undefined) throw failure.error;
      unexpirable += due.length - done.length; // not expirable yet: the next round retries them
      if (due.length < expiryLimits.dueBatchMax) break;
      // A stop ends a long backlog between pages: what is left is still pending, and the next start
      // (here or elsewhere) expires it.
      if (stopped()) break;
    }
    // A stuck round backs off before the next one (instead of spinning on boosts that stay overdue).
    return { outcomes, stuck: unexpirable > 0 && outcomes.length === 0 };
  }

  async #expire(userId: string, boostId: string, dueAt: string, dueAtMs: number): Promise<ExpiryOutcome | undefined> {
    const now = this.#clock.now();
    const result = await this.#handler.execute(
      userId,
      { type: 'ExpireBoost', boostId, now },
      {
        actor: 'service:boost-expiry',
        correlationId: `expire-${boostId}`,
        causationId: `expire-${boostId}`,
        // One expiry per activation: a boost id reused after its expiry is a new activation with its own due time.
        idempotency: { key: `expire-${boostId}@${dueAt}`, fingerprint: `${boostId}@${dueAt}` },
      },
    );
    if (result.ok) {
      const expired = result.events[0]?.event;
      const expiredAtMs = expired?.type === 'BoostExpired' ? Date.parse(expired.data.expiredAt) : now.toMillis();
      return { boostId, userId, dueAt, latenessMs: Math.max(0, expiredAtMs - dueAtMs), appended: !result.replayed };
    }
    if (result.rejection.code === 'BOOST_NOT_FOUND') return { boostId, userId, dueAt, latenessMs: 0, appended: false };
    this.#log?.warn({ boostId, userId, rejection: result.rejection }, 'boost could not be expired yet');
    return undefined;
  }

  /** Runs rounds on a timer: right away (everything that came due while down), then at each due time. */
  start(): void {
    this.#stopped = false;
    // A round still running (a stop that was not awaited) goes on, and schedules the next one when
    // it ends: two rounds never overlap.
    if (!this.#running) this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timerAt = undefined;
    await this.#round;
  }

  #wake(): void {
    if (!this.#stopped && !this.#running) void this.#scheduleNext();
  }

  async #sleepMs(): Promise<number> {
    await this.#ensured();
    const [next] = await this.#store.find(pendingExpiries.name, {
      orderBy: [
        ['dueAtMs', 1],
        ['_id', 1],
      ],
      limit: 1,
    });
    if (next === undefined) return expiryLimits.idleSleepMsMax;
    return Math.min(expiryLimits.idleSleepMsMax, Math.max(0, toPending(next).dueAtMs - this.#clock.now().toMillis()));
  }

  /** Sleeps until the next due time (at most `idleSleepMsMax`); a failed lookup retries after that. */
  async #scheduleNext(): Promise<void> {
    let delayMs: number = expiryLimits.idleSleepMsMax;
    try {
      delayMs = await this.#sleepMs();
    } catch (error) {
      this.#logFailure(error, 'could not read the next due time; retrying');
    }
    // After failed rounds, wait out the backoff even for boosts already due.
    delayMs = Math.max(delayMs, this.#backoffUntil - performance.now());
    if (!this.#stopped && !this.#running) this.#schedule(delayMs);
  }

  /** A store briefly out of reach (a rebuild holding the embedded file's lock) is a warning, not an error. */
  #logFailure(error: unknown, message: string): void {
    if (error instanceof ReadModelStoreUnavailableError) this.#log?.warn({ err: error }, message);
    else this.#log?.error({ err: error }, message);
  }

  /** Sets the timer for the next round; a wake-up only ever brings a pending timer forward. */
  #schedule(delayMs: number): void {
    const at = performance.now() + delayMs;
    if (this.#timerAt !== undefined && at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timerAt = undefined;
      this.#running = true;
      this.#round = this.#expireRound(true)
        .then(
          ({ stuck }) => {
            this.#failedRounds = stuck ? this.#failedRounds + 1 : 0;
          },
          (error: unknown) => {
            this.#failedRounds++;
            this.#logFailure(error, 'expiry round failed; retrying');
          },
        )
        .then(() => {
          const backoffMs =
            this.#failedRounds === 0
              ? 0
              : Math.min(
                  expiryLimits.retryBackoffMsMax,
                  expiryLimits.retryBackoffMsMin * 2 ** Math.min(this.#failedRounds - 1, 16),
                );
          this.#backoffUntil = performance.now() + backoffMs;
        })
        .finally(() => {
          this.#running = false;
          if (!this.#stopped) void this.#scheduleNext();
        });
    }, delayMs);
    this.#timer.unref();
  }
}

/**
 * Boost ids are chosen per account, and one may be reused once its boost expired: the booster, the
 * boost id and the due time name one activation's pending expiry.
 */
const pendingId = (userId: string, boostId: string, dueAt: string): string => JSON.stringify([userId, boostId, dueAt]);

const toPending = (doc: StoredDoc): { id: string; boostId: string; userId: string; dueAtMs: number; dueAt: string } => ({
  id: doc._id,
  boostId: doc.boostId as string,
  userId: doc.userId as string,
  dueAtMs: doc.dueAtMs as number,
  dueAt: doc.dueAt as string,
});
