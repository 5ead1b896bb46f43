import { type AccountCommandHandler, type RecordedEvent, type Clock } from '../../../ledger/src/index.js';
import { ReadModelStoreUnavailableError } from '../readModels/errors.js';
import type { ReadModelStore } from '../readModels/readModelStore.js';
import { backoffMs } from '../runtime/backoff.js';
import type { ProjectorLogger, Subscriber } from '../runtime/subscriber.js';
import { PendingExpiries } from './pendingExpiries.js';

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
 * Boost expiry as an event. As a projection it keeps the durable pending set (pendingExpiries.ts:
 * one document per active boost with its due time, committed with its checkpoint),
 * so a restart does not replay history. As a scheduler, each round asks that collection — not memory — for
 * what is due at the injected clock's `now` and sends ExpireBoost through the command handler. The
 * command's idempotency key is derived from the boost id, so two schedulers racing, or a round
 * repeated after a crash, append one BoostExpired per boost. Memory stays bounded by one round.
 */
export class BoostExpiryScheduler implements Subscriber {
  readonly name = 'boost_expiry';
  readonly #pending: PendingExpiries;
  readonly #handler: AccountCommandHandler;
  readonly #clock: Clock;
  readonly #log: ProjectorLogger | undefined;
  readonly #onExpired: ((outcome: ExpiryOutcome) => void) | undefined;
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
    this.#pending = new PendingExpiries(options.store);
    this.#handler = options.handler;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#onExpired = options.onExpired;
  }

  // ---- the projection half: the durable pending set (pendingExpiries.ts) ----

  loadCheckpoint(): Promise<number> {
    return this.#pending.loadCheckpoint();
  }

  async handle(batch: readonly RecordedEvent[]): Promise<void> {
    await this.#pending.handle(batch);
    // New boosts may be due sooner than the current sleep.
    this.#wake();
  }

  pendingCount(): Promise<number> {
    return this.#pending.count();
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
      const due = await this.#pending.due(now.toMillis(), expiryLimits.dueBatchMax, after);
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
      await this.#pending.remove(done);
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
    const next = await this.#pending.next();
    if (next === undefined) return expiryLimits.idleSleepMsMax;
    return Math.min(expiryLimits.idleSleepMsMax, Math.max(0, next.dueAtMs - this.#clock.now().toMillis()));
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
          this.#backoffUntil =
            performance.now() +
            backoffMs(this.#failedRounds, { minMs: expiryLimits.retryBackoffMsMin, maxMs: expiryLimits.retryBackoffMsMax });
        })
        .finally(() => {
          this.#running = false;
          if (!this.#stopped) void this.#scheduleNext();
        });
    }, delayMs);
    this.#timer.unref();
  }
}
