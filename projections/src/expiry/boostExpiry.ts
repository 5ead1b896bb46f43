import type Database from 'better-sqlite3';
import { accountStreamPrefix } from '../../../ledger/src/accounts/events.js';
import { toCommitted, type AccountCommandHandler } from '../../../ledger/src/commandHandling/accountCommandHandler.js';
import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import type { Clock } from '../../../ledger/src/shared/clock.js';
import type { SqliteReadModels } from '../readModels/sqliteReadModels.js';
import type { ProjectorLogger, Subscriber } from '../runtime/projector.js';

/** Limits of the expiry scheduler, in one place. */
export const expiryLimits = {
  /** Most due boosts expired per round. */
  dueBatchMax: 1000,
  /** Commands in flight at once while expiring a round. */
  concurrencyMax: 64,
  /** Longest sleep between rounds, so a clock that jumps (or a missed timer) is noticed soon. */
  idleSleepMsMax: 1000,
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
 * Boost expiry as an event. As a projection it keeps the durable pending set (`pending_expiries`:
 * one row per active boost with its due time, maintained in the same transaction as its checkpoint),
 * so a restart does not replay history. As a scheduler, each round asks that table — not memory — for
 * what is due at the injected clock's `now` and sends ExpireBoost through the command handler. The
 * command's idempotency key is derived from the boost id, so two schedulers racing, or a round
 * repeated after a crash, append one BoostExpired per boost. Memory stays bounded by one round.
 */
export class BoostExpiryScheduler implements Subscriber {
  readonly name = 'boost_expiry';
  readonly #models: SqliteReadModels;
  readonly #handler: AccountCommandHandler;
  readonly #clock: Clock;
  readonly #log: ProjectorLogger | undefined;
  readonly #onExpired: ((outcome: ExpiryOutcome) => void) | undefined;
  readonly #statements: {
    add: Database.Statement<[string, string, number, string]>;
    remove: Database.Statement<[string]>;
    due: Database.Statement<[number, number], { boost_id: string; user_id: string; due_at_ms: number; due_at: string }>;
    next: Database.Statement<[], { due: number | null }>;
    count: Database.Statement<[], { n: number }>;
  };
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = true;
  #round: Promise<void> | undefined;

  constructor(options: {
    models: SqliteReadModels;
    handler: AccountCommandHandler;
    clock: Clock;
    logger?: ProjectorLogger;
    onExpired?: (outcome: ExpiryOutcome) => void;
  }) {
    this.#models = options.models;
    this.#handler = options.handler;
    this.#clock = options.clock;
    this.#log = options.logger;
    this.#onExpired = options.onExpired;
    const db = options.models.db;
    db.exec(`CREATE TABLE IF NOT EXISTS pending_expiries (boost_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, due_at_ms INTEGER NOT NULL, due_at TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS pending_expiries_by_due ON pending_expiries (due_at_ms, boost_id);`);
    this.#statements = {
      add: db.prepare('INSERT OR IGNORE INTO pending_expiries (boost_id, user_id, due_at_ms, due_at) VALUES (?, ?, ?, ?)'),
      remove: db.prepare('DELETE FROM pending_expiries WHERE boost_id = ?'),
      due: db.prepare(
        'SELECT boost_id, user_id, due_at_ms, due_at FROM pending_expiries WHERE due_at_ms <= ? ORDER BY due_at_ms, boost_id LIMIT ?',
      ),
      next: db.prepare('SELECT MIN(due_at_ms) AS due FROM pending_expiries'),
      count: db.prepare('SELECT COUNT(*) AS n FROM pending_expiries'),
    };
  }

  // ---- the projection half: the durable pending set ----

  loadCheckpoint(): Promise<number> {
    return Promise.resolve(this.#models.checkpoint(this.name));
  }

  handle(batch: readonly RecordedEvent[]): Promise<void> {
    this.#models.transaction(() => {
      const applied = this.#models.checkpoint(this.name);
      for (const recorded of batch) {
        if (recorded.position <= applied || !recorded.stream.startsWith(accountStreamPrefix)) continue;
        if (recorded.type !== 'BoostActivated' && recorded.type !== 'BoostExpired') continue;
        const event = toCommitted(recorded).event;
        if (event.type === 'BoostActivated') {
          const dueAtMs = Date.parse(event.data.expiresAt);
          this.#statements.add.run(
            event.data.boostId,
            recorded.stream.slice(accountStreamPrefix.length),
            dueAtMs,
            event.data.expiresAt,
          );
        } else if (event.type === 'BoostExpired') {
          this.#statements.remove.run(event.data.boostId);
        }
      }
      const last = batch[batch.length - 1];
      if (last !== undefined && last.position > applied) this.#models.saveCheckpoint(this.name, last.position);
    });
    // New boosts may be due sooner than the current sleep.
    this.#wake();
    return Promise.resolve();
  }

  pendingCount(): number {
    return this.#statements.count.get()?.n ?? 0;
  }

  // ---- the scheduler half ----

  /**
   * One round: expires every boost due at the clock's `now` (up to `dueBatchMax`, then again).
   * Tests call it after moving the clock; `start` calls it on a timer.
   */
  async expireDue(): Promise<ExpiryOutcome[]> {
    const outcomes: ExpiryOutcome[] = [];
    for (;;) {
      const now = this.#clock.now();
      const due = this.#statements.due.all(now.toMillis(), expiryLimits.dueBatchMax);
      if (due.length === 0) return outcomes;
      let index = 0;
      const done: string[] = [];
      const worker = async (): Promise<void> => {
        while (index < due.length) {
          const row = due[index++];
          if (row === undefined) return;
          const outcome = await this.#expire(row.user_id, row.boost_id, row.due_at, row.due_at_ms);
          if (outcome === undefined) continue;
          done.push(row.boost_id);
          outcomes.push(outcome);
          this.#onExpired?.(outcome);
        }
      };
      await Promise.all(Array.from({ length: Math.min(expiryLimits.concurrencyMax, due.length) }, worker));
      // The projection removes expired boosts from the pending set when it sees their BoostExpired;
      // until then, remove the ones this round settled so the next round does not ask again.
      this.#models.transaction(() => {
        for (const boostId of done) this.#statements.remove.run(boostId);
      });
      if (done.length < due.length) return outcomes; // the rest is not expirable yet; the next round retries
      if (due.length < expiryLimits.dueBatchMax) return outcomes;
    }
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
        idempotency: { key: `expire-${boostId}`, fingerprint: boostId },
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
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  #wake(): void {
    if (!this.#stopped && !this.#running) this.#schedule(this.#sleepMs());
  }

  #sleepMs(): number {
    const next = this.#statements.next.get()?.due;
    if (next === null || next === undefined) return expiryLimits.idleSleepMsMax;
    return Math.min(expiryLimits.idleSleepMsMax, Math.max(0, next - this.#clock.now().toMillis()));
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#running = true;
      this.#round = this.expireDue()
        .then(
          () => undefined,
          (error: unknown) => this.#log?.error({ err: error }, 'expiry round failed; retrying'),
        )
        .finally(() => {
          this.#running = false;
          if (!this.#stopped) this.#schedule(this.#sleepMs());
        });
    }, delayMs);
    this.#timer.unref();
  }
}
