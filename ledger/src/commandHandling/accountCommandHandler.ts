import assert from 'node:assert/strict';
import { accountEventOf } from '../accounts/accountEvent.js';
import type { AccountCommand } from '../accounts/commands.js';
import { decide, type Decision } from '../accounts/decide.js';
import { accountEventSchemaVersion, accountStream, validateAccountEvent, type AccountEvent } from '../accounts/events.js';
import { stateDependentRejections } from '../accounts/rejections.js';
import { evolve, initialState, type AccountState } from '../accounts/state.js';
import type { EventStore, EventToAppend, JsonObject } from '../eventStore/eventStore.js';
import { eventHash, genesisHash } from '../shared/hashChain.js';
import { AccountCache, type LoadedAccount } from './accountCache.js';
import { AccountSnapshots } from './accountSnapshots.js';
import type { CommandContext } from './commandContext.js';
import type { CommandResult } from './commandResult.js';
import { commandIdsFor, Idempotency, type CommandIds } from './idempotency.js';
import { retryOnConflict } from './retryOnConflict.js';

export type { CommandContext, IdempotencyCheck, IdempotencyKey } from './commandContext.js';
export type { CommandResult, CommittedAccountEvent } from './commandResult.js';
export { ConcurrencyRetriesExhaustedError } from './retryOnConflict.js';

export const commandHandlerLimits = {
  /** Attempts at one command when other writers keep moving the stream (optimistic concurrency). */
  appendAttemptsMax: 8,
  /** Folded accounts kept in memory (least recently used evicted first). */
  cachedAccountsMax: 100_000,
  /** Events read per page when folding an account. */
  loadPageEventsMax: 1000,
  /** Upper bound of the random pause before retrying a conflicting append. */
  conflictBackoffMsMax: 50,
} as const;

/**
 * Load → decide → append, for account streams.
 *
 * - Commands on one account run one at a time in this process (a per-stream queue), so concurrent
 *   requests for one account wait instead of conflicting; commands on different accounts run
 *   concurrently and share the store's group commit.
 * - Folded state is cached with its revision (accountCache.ts). The append uses the cached revision
 *   as the expected revision, so the common case reads nothing; when another process moved the
 *   stream the append conflicts, the handler reads only the tail past the cached revision and retries
 *   (retryOnConflict.ts). The cost of a command therefore does not grow with the account's history.
 * - A keyed command already in the log is answered from the log (idempotency.ts), before the first
 *   attempt and after every conflict.
 */
export class AccountCommandHandler {
  readonly #store: EventStore;
  readonly #cache: AccountCache;
  readonly #idempotency: Idempotency;
  readonly #snapshots: AccountSnapshots;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(store: EventStore, options: { cachedAccountsMax?: number; eventsPerSnapshot?: number } = {}) {
    this.#store = store;
    this.#snapshots = new AccountSnapshots(store, options.eventsPerSnapshot);
    this.#cache = new AccountCache(options.cachedAccountsMax ?? commandHandlerLimits.cachedAccountsMax);
    this.#idempotency = new Idempotency(store, async (userId) => (await this.read(userId)).balance);
  }

  /** Runs one command against `userId`'s account. Rejections are returned; infrastructure failures throw. */
  execute(userId: string, command: AccountCommand, context: CommandContext): Promise<CommandResult> {
    const stream = accountStream(userId);
    const previous = this.#queues.get(stream) ?? Promise.resolve();
    const run = previous.then(
      () => this.#execute(userId, stream, command, context),
      () => this.#execute(userId, stream, command, context),
    );
    this.#queues.set(stream, run);
    const cleanup = (): void => {
      if (this.#queues.get(stream) === run) this.#queues.delete(stream);
    };
    run.then(cleanup, cleanup);
    return run;
  }

  /** The current balance and revision of an account, read through the cache. */
  async read(userId: string): Promise<{ balance: number; revision: number; state: AccountState }> {
    const stream = accountStream(userId);
    const account = await this.#load(userId, stream, this.#cache.get(stream));
    return { balance: account.state.balance, revision: account.revision, state: account.state };
  }

  async #execute(userId: string, stream: string, command: AccountCommand, context: CommandContext): Promise<CommandResult> {
    const ids = commandIdsFor(stream, context.idempotency?.key);
    const original = await this.#idempotency.lookUp(userId, stream, ids, context.idempotency);
    if (original !== undefined) return original;

    // Load, optimistically: a cached account is used as it is; if another process moved the stream,
    // the append says so and only then is the tail read.
    const cached = this.#cache.get(stream);
    let account = cached ?? (await this.#load(userId, stream, undefined));
    /** Whether `account` may be behind the log (it came from the cache and has not been checked since). */
    let unconfirmed = cached !== undefined;
    return retryOnConflict({
      stream,
      attemptsMax: commandHandlerLimits.appendAttemptsMax,
      backoffMsMax: commandHandlerLimits.conflictBackoffMsMax,
      attempt: async () => {
        // Decide.
        let decision = decide(command, account.state);
        if (!decision.ok && unconfirmed && stateDependentRejections.has(decision.rejection.code)) {
          unconfirmed = false;
          ({ account, decision } = await this.#confirmRejectionAgainstTail(userId, stream, command, account, decision));
        }
        if (!decision.ok) return decision;
        // Append.
        return this.#append(userId, stream, account, decision.events, ids, command, context);
      },
      afterConflict: async () => {
        // Someone else appended: fold only the tail we have not seen, then decide again. The writer
        // that got in first may have been this very command (the same key, from another process):
        // answer from the log instead of appending again. An engine without a global id index
        // (EventStoreDB) would otherwise store a second copy at the new revision.
        account = await this.#load(userId, stream, account);
        return this.#idempotency.lookUp(userId, stream, ids, context.idempotency);
      },
      onExhausted: () => this.#cache.forget(stream),
    });
  }

  /**
   * An append would reveal a stale cache (its revision conflicts); a rejection would not, and another
   * process's events (a credit, a boost it activated) may change the answer. So a rejection decided
   * on cached state is confirmed against the log's tail first, and decided again if the tail moved.
   */
  async #confirmRejectionAgainstTail(
    userId: string,
    stream: string,
    command: AccountCommand,
    cached: LoadedAccount,
    rejection: Decision,
  ): Promise<{ account: LoadedAccount; decision: Decision }> {
    const account = await this.#load(userId, stream, cached);
    return { account, decision: account.revision === cached.revision ? rejection : decide(command, account.state) };
  }

  /** Appends the decided events at `account`'s revision; a conflict throws (and is retried by the caller). */
  async #append(
    userId: string,
    stream: string,
    account: LoadedAccount,
    events: readonly AccountEvent[],
    ids: CommandIds,
    command: AccountCommand,
    context: CommandContext,
  ): Promise<CommandResult> {
    const toAppend = this.#toAppend(stream, account, events, ids, command, context);
    const result = await this.#store.append(stream, toAppend, {
      expectedRevision: account.revision === -1 ? 'no_stream' : account.revision,
      // A keyed command must be found by its key however long the account grows (a point read).
      ...(context.idempotency === undefined ? {} : { indexed: true as const }),
    });
    if (
      result.idempotent ||
      (context.idempotency !== undefined && !(await this.#idempotency.storedAsSent(stream, toAppend, result)))
    ) {
      // The ids were already there: a repeat that raced its original. Answer with the original.
      this.#cache.forget(stream);
      return this.#idempotency.original(userId, stream, ids, context.idempotency);
    }
    let state = account.state;
    for (const event of events) state = evolve(state, event);
    const firstRevision = result.nextExpectedRevision - toAppend.length + 1;
    const last = toAppend[toAppend.length - 1];
    assert.ok(last !== undefined);
    const appended = { state, revision: result.nextExpectedRevision, lastHash: hashOf(last.metadata) };
    this.#cache.remember(stream, appended);
    if (this.#snapshots.due(account.revision, appended.revision)) this.#snapshots.schedule(stream, appended);
    return {
      ok: true,
      events: events.map((event, index) => ({
        id: toAppend[index]?.id ?? '',
        event,
        metadata: toAppend[index]?.metadata ?? {},
        revision: firstRevision + index,
        // Positions of all but the last event are not reported by every engine; commands emit one event.
        position: index === events.length - 1 ? result.position : -1,
      })),
      balance: state.balance,
      revision: result.nextExpectedRevision,
      replayed: false,
    };
  }

  #toAppend(
    stream: string,
    account: LoadedAccount,
    events: readonly AccountEvent[],
    { commandId, eventIdAt }: CommandIds,
    command: AccountCommand,
    context: CommandContext,
  ): EventToAppend[] {
    let prevHash = account.lastHash;
    return events.map((event, index) => {
      const checked = validateAccountEvent(event.type, event.data);
      assert.ok(checked.ok, `decide produced an invalid event: ${checked.ok ? '' : checked.problem}`);
      const metadata: JsonObject = {
        schemaVersion: accountEventSchemaVersion,
        commandId,
        commandType: command.type,
        occurredAt: command.now.toUTC().toISO() ?? '',
        actor: context.actor,
        correlationId: context.correlationId,
        causationId: context.causationId,
        ...(context.idempotency === undefined ? {} : { idempotencyFingerprint: context.idempotency.fingerprint }),
        prevHash,
      };
      const data = event.data as unknown as JsonObject;
      const hash = eventHash({ stream, revision: account.revision + 1 + index, type: event.type, data, metadata });
      prevHash = hash;
      return { id: eventIdAt(index), type: event.type, data, metadata: { ...metadata, hash } };
    });
  }

  /** Resolves when the snapshot writes under way have ended (tests and shutdown; commands never wait for them). */
  snapshotsSettled(): Promise<void> {
    return this.#snapshots.settled();
  }

  /**
   * Folds the events after `from` onto `from`'s state, and caches the result. Without `from`, starts
   * from the stream's snapshot when the log agrees with it (else from the start), so a cold load
   * folds fewer than `eventsPerSnapshot` events (more only if a snapshot write was skipped or lost).
   * Between pages it yields to the event loop, so a long fold never holds up other requests.
   */
  async #load(userId: string, stream: string, from: LoadedAccount | undefined): Promise<LoadedAccount> {
    let account: LoadedAccount = from ??
      (await this.#snapshots.load(userId, stream)) ?? { state: initialState(userId), revision: -1, lastHash: genesisHash };
    const startRevision = account.revision;
    for (let pages = 0; ; pages++) {
      if (pages > 0) await new Promise(setImmediate);
      const page = await this.#store.readStream(stream, {
        fromRevision: account.revision + 1,
        maxCount: commandHandlerLimits.loadPageEventsMax,
      });
      let { state, revision, lastHash } = account;
      for (const recorded of page) {
        const decoded = accountEventOf(recorded);
        assert.ok(decoded !== undefined, `${stream} is not an account stream`);
        assert.equal(recorded.revision, revision + 1, `${stream}: revision gap at ${recorded.revision}`);
        assert.equal(recorded.metadata.prevHash, lastHash, `${stream}: hash chain broken at revision ${recorded.revision}`);
        // The stored hash must be the event's own: a change to its type, data or metadata breaks it.
        assert.equal(
          eventHash({
            stream,
            revision: recorded.revision,
            type: recorded.type,
            data: recorded.data,
            metadata: recorded.metadata,
          }),
          recorded.metadata.hash,
          `${stream}: event at revision ${recorded.revision} does not match its hash (changed after it was written)`,
        );
        state = evolve(state, decoded.event);
        revision = recorded.revision;
        lastHash = hashOf(recorded.metadata);
      }
      account = { state, revision, lastHash };
      if (page.length < commandHandlerLimits.loadPageEventsMax) break;
    }
    this.#cache.remember(stream, account);
    if (this.#snapshots.due(startRevision, account.revision)) this.#snapshots.schedule(stream, account);
    return account;
  }
}

const hashOf = (metadata: JsonObject): string => {
  const hash = metadata.hash;
  assert.ok(typeof hash === 'string' && hash.length === 64, 'every account event carries its chain hash');
  return hash;
};
