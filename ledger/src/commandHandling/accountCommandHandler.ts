import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import type { AccountCommand } from '../accounts/commands.js';
import { decide } from '../accounts/decide.js';
import { accountEventSchemaVersion, accountStream, validateAccountEvent, type AccountEvent } from '../accounts/events.js';
import { reject, stateDependentRejections, type Rejection } from '../accounts/rejections.js';
import { evolve, initialState, type AccountState } from '../accounts/state.js';
import { StreamRevisionConflictError } from '../eventStore/errors.js';
import type { AppendResult, EventStore, EventToAppend, JsonObject, RecordedEvent } from '../eventStore/eventStore.js';
import { eventHash, genesisHash } from '../shared/hashChain.js';

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

/** Namespace for event ids derived from (stream, command id, index). Never change it: ids must stay stable. */
const eventIdNamespace = '6f1c2b0e-7a53-4d8e-9a43-2f4f0d1f6a11';

export interface CommandContext {
  /** Who asked: a user id, `service:<name>` or `admin:<id>`; recorded in every event's metadata. */
  readonly actor: string;
  /** The request or workflow this command belongs to. */
  readonly correlationId: string;
  /** The message (request, event) that caused this command. */
  readonly causationId: string;
  /**
   * The client's idempotency key and a fingerprint of what it asked for. A command repeated with
   * the same key returns the original outcome and appends nothing; the same key with a different
   * fingerprint is rejected with IDEMPOTENCY_KEY_REUSED. Keys are scoped to the account; callers
   * that take keys from outside (the gateway) namespace them, so that they can never equal the keys
   * the reactors use on the same account (`expire-…`, `settle-…`).
   */
  readonly idempotency?: IdempotencyCheck & {
    readonly key: string;
    /**
     * Other keys this request may already have been recorded under, looked up after `key` (same
     * fingerprint check). The gateway's purchases are keyed by their paymentRef, so that a payment
     * is credited once whatever keys its deliveries carry; the client's own key is an alias.
     */
    readonly aliases?: readonly (IdempotencyCheck & { readonly key: string })[];
  };
}

export interface IdempotencyCheck {
  readonly fingerprint: string;
  /** The message of the IDEMPOTENCY_KEY_REUSED rejection when this key names a different request. */
  readonly reused?: string;
}

/** An account event as committed, with its place in the stream and the log. */
export interface CommittedAccountEvent {
  readonly id: string;
  readonly event: AccountEvent;
  readonly metadata: JsonObject;
  readonly revision: number;
  readonly position: number;
}

export type CommandResult =
  | {
      readonly ok: true;
      readonly events: readonly CommittedAccountEvent[];
      readonly balance: number;
      /** The stream revision after the command. */
      readonly revision: number;
      /** True when this is a repeat of an already-committed command (nothing was appended now). */
      readonly replayed: boolean;
    }
  | { readonly ok: false; readonly rejection: Rejection };

/** Raised when the stream kept moving under the command for `appendAttemptsMax` attempts (HTTP 409). */
export class ConcurrencyRetriesExhaustedError extends Error {
  readonly type = 'concurrency_retries_exhausted' as const;
  constructor(readonly stream: string) {
    super(`stream ${stream}: gave up after ${commandHandlerLimits.appendAttemptsMax} conflicting attempts`);
    this.name = 'ConcurrencyRetriesExhaustedError';
  }
}

interface LoadedAccount {
  readonly state: AccountState;
  /** Revision of the last folded event; -1 for an account with no events. */
  readonly revision: number;
  /** Hash of the last folded event, the next event's `prevHash`. */
  readonly lastHash: string;
}

/**
 * Load → decide → append, for account streams.
 *
 * - Commands on one account run one at a time in this process (a per-stream queue), so concurrent
 *   requests for one account wait instead of conflicting; commands on different accounts run
 *   concurrently and share the store's group commit.
 * - Folded state is cached with its revision. The append uses the cached revision as the expected
 *   revision, so the common case reads nothing; when another process moved the stream the append
 *   conflicts, the handler reads only the tail past the cached revision and retries. The cost of a
 *   command therefore does not grow with the account's history.
 */
export class AccountCommandHandler {
  readonly #store: EventStore;
  readonly #cache = new Map<string, LoadedAccount>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #cachedAccountsMax: number;

  constructor(store: EventStore, options: { cachedAccountsMax?: number } = {}) {
    this.#store = store;
    this.#cachedAccountsMax = options.cachedAccountsMax ?? commandHandlerLimits.cachedAccountsMax;
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
    const account = await this.#load(userId, accountStream(userId), this.#cached(accountStream(userId)));
    return { balance: account.state.balance, revision: account.revision, state: account.state };
  }

  async #execute(userId: string, stream: string, command: AccountCommand, context: CommandContext): Promise<CommandResult> {
    // Event ids: derived from the idempotency key when there is one, so a repeat maps to the same ids;
    // otherwise time-ordered (UUIDv7), which keeps the store's unique id index append-only and cheap.
    const key = context.idempotency?.key;
    const commandId = key ?? uuidv7();
    const eventIdAt = (index: number): string =>
      key === undefined ? (index === 0 ? commandId : uuidv7()) : keyedEventId(stream, key, index);

    if (context.idempotency !== undefined) {
      const answered = await this.#answerFromKeys(userId, stream, eventIdAt(0), context.idempotency);
      if (answered !== undefined) return answered;
    }

    // Optimistic: a cached account is used as it is; if another process moved the stream, the
    // append says so and only then is the tail read.
    const cached = this.#cached(stream);
    let account = cached ?? (await this.#load(userId, stream, undefined));
    /** Whether `account` may be behind the log (it came from the cache and has not been checked since). */
    let unconfirmed = cached !== undefined;
    for (let attempt = 1; attempt <= commandHandlerLimits.appendAttemptsMax; attempt++) {
      let decision = decide(command, account.state);
      if (!decision.ok && unconfirmed && stateDependentRejections.has(decision.rejection.code)) {
        // An append would reveal a stale cache (its revision conflicts); a rejection would not, and
        // another process's events (a credit, a boost it activated) may change the answer. So a
        // rejection decided on cached state is confirmed against the log's tail first.
        unconfirmed = false;
        const before = account.revision;
        account = await this.#load(userId, stream, account);
        if (account.revision !== before) decision = decide(command, account.state);
      }
      if (!decision.ok) return decision;

      const toAppend = this.#toAppend(stream, account, decision.events, commandId, eventIdAt, command, context);
      try {
        const result = await this.#store.append(stream, toAppend, {
          expectedRevision: account.revision === -1 ? 'no_stream' : account.revision,
        });
        if (result.idempotent || (context.idempotency !== undefined && !(await this.#storedAsSent(stream, toAppend, result)))) {
          // The ids were already there: a repeat that raced its original. Answer with the original.
          this.#cache.delete(stream);
          const answered = await this.#answerFromLog(userId, stream, eventIdAt(0), context.idempotency);
          assert.ok(answered !== undefined, 'an idempotent append found its events');
          return answered;
        }
        let state = account.state;
        for (const event of decision.events) state = evolve(state, event);
        const firstRevision = result.nextExpectedRevision - toAppend.length + 1;
        const last = toAppend[toAppend.length - 1];
        assert.ok(last !== undefined);
        this.#remember(stream, { state, revision: result.nextExpectedRevision, lastHash: hashOf(last.metadata) });
        return {
          ok: true,
          events: decision.events.map((event, index) => ({
            id: toAppend[index]?.id ?? '',
            event,
            metadata: toAppend[index]?.metadata ?? {},
            revision: firstRevision + index,
            // Positions of all but the last event are not reported by every engine; commands emit one event.
            position: index === decision.events.length - 1 ? result.position : -1,
          })),
          balance: state.balance,
          revision: result.nextExpectedRevision,
          replayed: false,
        };
      } catch (error) {
        if (!(error instanceof StreamRevisionConflictError)) throw error;
        // Someone else appended: fold only the tail we have not seen and decide again. The jittered
        // pause breaks the lockstep of two processes that keep colliding on one hot account.
        await delay(Math.random() * Math.min(commandHandlerLimits.conflictBackoffMsMax, 2 ** attempt));
        account = await this.#load(userId, stream, account);
        // The writer that got in first may have been this very command (the same key, from another
        // process): answer from the log instead of appending again. An engine without a global id
        // index (EventStoreDB) would otherwise store a second copy at the new revision.
        if (context.idempotency !== undefined) {
          const answered = await this.#answerFromKeys(userId, stream, eventIdAt(0), context.idempotency);
          if (answered !== undefined) return answered;
        }
      }
    }
    this.#cache.delete(stream);
    throw new ConcurrencyRetriesExhaustedError(stream);
  }

  #toAppend(
    stream: string,
    account: LoadedAccount,
    events: readonly AccountEvent[],
    commandId: string,
    eventIdAt: (index: number) => string,
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

  /**
   * Whether the log holds the events this keyed command just sent, rather than an original with the
   * same (key-derived) ids. An engine may accept a repeat of stored ids without saying so:
   * EventStoreDB answers a repeat at the original expected revision as a plain success. The first
   * event's chain hash covers its content, so it tells the two apart in one read.
   */
  async #storedAsSent(stream: string, sent: readonly EventToAppend[], result: AppendResult): Promise<boolean> {
    const first = sent[0];
    assert.ok(first !== undefined);
    // One event, read at the revision the append reported for it (not a search by id).
    const [stored] = await this.#store.readStream(stream, {
      fromRevision: result.nextExpectedRevision - sent.length + 1,
      maxCount: 1,
    });
    return stored !== undefined && stored.id === first.id && stored.metadata.hash === first.metadata.hash;
  }

  /**
   * The outcome of a keyed command already in the log: under its own key first (a retried purchase
   * is answered by its paymentRef even if its client key was reused since), then under its aliases.
   */
  async #answerFromKeys(
    userId: string,
    stream: string,
    firstEventId: string,
    idempotency: NonNullable<CommandContext['idempotency']>,
  ): Promise<CommandResult | undefined> {
    const answered = await this.#answerFromLog(userId, stream, firstEventId, idempotency);
    if (answered !== undefined) return answered;
    for (const alias of idempotency.aliases ?? []) {
      const aliased = await this.#answerFromLog(userId, stream, keyedEventId(stream, alias.key, 0), alias);
      if (aliased !== undefined) return aliased;
    }
    return undefined;
  }

  /** The outcome of the command whose first event is `firstEventId`, if the log holds it. */
  async #answerFromLog(
    userId: string,
    stream: string,
    firstEventId: string,
    check: IdempotencyCheck | undefined,
  ): Promise<CommandResult | undefined> {
    const original = await this.#store.findEventInStream(stream, firstEventId);
    return original === undefined ? undefined : this.#replay(userId, stream, original, check);
  }

  /** The outcome of an already-committed command, rebuilt from the log. */
  async #replay(
    userId: string,
    stream: string,
    original: RecordedEvent,
    check: IdempotencyCheck | undefined,
  ): Promise<CommandResult> {
    if (check !== undefined && original.metadata.idempotencyFingerprint !== check.fingerprint) {
      return {
        ok: false,
        rejection: reject(
          'IDEMPOTENCY_KEY_REUSED',
          check.reused ?? 'this idempotency key was already used for a different request',
        ),
      };
    }
    const commandId = original.metadata.commandId;
    const events = (await this.#store.readStream(stream, { fromRevision: original.revision, maxCount: 16 })).filter(
      (event) => event.metadata.commandId === commandId,
    );
    const committed = events.map(toCommitted);
    const last = committed[committed.length - 1];
    assert.ok(last !== undefined, 'a replayed command has at least one event');
    const balance = balanceAfterOf(last.event);
    return {
      ok: true,
      events: committed,
      balance: balance ?? (await this.read(userId)).balance,
      revision: last.revision,
      replayed: true,
    };
  }

  #cached(stream: string): LoadedAccount | undefined {
    const hit = this.#cache.get(stream);
    if (hit !== undefined) {
      // Refresh its place in the LRU order.
      this.#cache.delete(stream);
      this.#cache.set(stream, hit);
    }
    return hit;
  }

  #remember(stream: string, account: LoadedAccount): void {
    this.#cache.delete(stream);
    this.#cache.set(stream, account);
    if (this.#cache.size > this.#cachedAccountsMax) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
  }

  /** Folds the events after `from` (or the whole stream) onto `from`'s state. */
  async #load(userId: string, stream: string, from: LoadedAccount | undefined): Promise<LoadedAccount> {
    let account: LoadedAccount = from ?? { state: initialState(userId), revision: -1, lastHash: genesisHash };
    for (;;) {
      const page = await this.#store.readStream(stream, {
        fromRevision: account.revision + 1,
        maxCount: commandHandlerLimits.loadPageEventsMax,
      });
      let { state, revision, lastHash } = account;
      for (const recorded of page) {
        const committed = toCommitted(recorded);
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
        state = evolve(state, committed.event);
        revision = recorded.revision;
        lastHash = hashOf(recorded.metadata);
      }
      account = { state, revision, lastHash };
      if (page.length < commandHandlerLimits.loadPageEventsMax) break;
    }
    this.#remember(stream, account);
    return account;
  }
}

/** The id of a keyed command's `index`-th event: the same key on the same account, the same ids. */
const keyedEventId = (stream: string, key: string, index: number): string =>
  uuidv5(`${stream}\n${key}\n${index}`, eventIdNamespace);

/**
 * Each recorded event object is validated once: consumers that share a read (a rebuild feeding several
 * builders) get the first validation's result. Recorded events are never mutated.
 */
const validated = new WeakMap<RecordedEvent, CommittedAccountEvent>();

/** Validates a stored event (the read half of the pair assertion) and types it. */
export const toCommitted = (recorded: RecordedEvent): CommittedAccountEvent => {
  const known = validated.get(recorded);
  if (known !== undefined) return known;
  const checked = validateAccountEvent(recorded.type, recorded.data);
  assert.ok(
    checked.ok,
    `corrupt event ${recorded.id} in ${recorded.stream}@${recorded.revision}: ${checked.ok ? '' : checked.problem}`,
  );
  const committed = {
    id: recorded.id,
    event: checked.event,
    metadata: recorded.metadata,
    revision: recorded.revision,
    position: recorded.position,
  };
  validated.set(recorded, committed);
  return committed;
};

const balanceAfterOf = (event: AccountEvent): number | undefined =>
  'balanceAfter' in event.data ? event.data.balanceAfter : undefined;

const hashOf = (metadata: JsonObject): string => {
  const hash = metadata.hash;
  assert.ok(typeof hash === 'string' && hash.length === 64, 'every account event carries its chain hash');
  return hash;
};
