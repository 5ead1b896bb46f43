import assert from 'node:assert/strict';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import type { AccountEvent } from '../accounts/events.js';
import { reject } from '../accounts/rejections.js';
import type { AppendResult, EventStore, EventToAppend, RecordedEvent } from '../eventStore/eventStore.js';
import type { CommandContext, IdempotencyCheck } from './commandContext.js';
import { committedOf, type CommandResult } from './commandResult.js';

/** Namespace for event ids derived from (stream, command id, index). Never change it: ids must stay stable. */
const eventIdNamespace = '6f1c2b0e-7a53-4d8e-9a43-2f4f0d1f6a11';

/** Events of one command a replay may find after its first (a command emits one event today). */
const replayEventsMax = 16;

/** The id of a keyed command's `index`-th event: the same key on the same account, the same ids. */
const keyedEventId = (stream: string, key: string, index: number): string =>
  uuidv5(`${stream}\n${key}\n${index}`, eventIdNamespace);

/** The ids one command's events are appended with. */
export interface CommandIds {
  readonly commandId: string;
  readonly eventIdAt: (index: number) => string;
}

/**
 * Event ids: derived from the idempotency key when there is one, so a repeat maps to the same ids;
 * otherwise time-ordered (UUIDv7), which keeps the store's unique id index append-only and cheap.
 */
export const commandIdsFor = (stream: string, key: string | undefined): CommandIds => {
  const commandId = key ?? uuidv7();
  return {
    commandId,
    eventIdAt: (index) => (key === undefined ? (index === 0 ? commandId : uuidv7()) : keyedEventId(stream, key, index)),
  };
};

/**
 * Idempotency, the command handler's collaborator: finds a keyed command already in the log (under
 * its key, then its aliases) and answers with its original outcome, rebuilt from the log; and tells a
 * repeat that raced its original from a fresh append. It reads the log and never appends.
 */
export class Idempotency {
  readonly #store: EventStore;
  /** The account's current balance, for a replayed event that does not carry `balanceAfter`. */
  readonly #balanceOf: (userId: string) => Promise<number>;

  constructor(store: EventStore, balanceOf: (userId: string) => Promise<number>) {
    this.#store = store;
    this.#balanceOf = balanceOf;
  }

  /**
   * The outcome of a keyed command already in the log: under its own key first (a retried purchase
   * is answered by its paymentRef even if its client key was reused since), then under its aliases.
   * Undefined for a command without a key, or one the log does not hold.
   */
  async lookUp(
    userId: string,
    stream: string,
    ids: CommandIds,
    idempotency: CommandContext['idempotency'],
  ): Promise<CommandResult | undefined> {
    if (idempotency === undefined) return undefined;
    const answered = await this.#answerFromLog(userId, stream, ids.eventIdAt(0), idempotency);
    if (answered !== undefined) return answered;
    for (const alias of idempotency.aliases ?? []) {
      const aliased = await this.#answerFromLog(userId, stream, keyedEventId(stream, alias.key, 0), alias);
      if (aliased !== undefined) return aliased;
    }
    return undefined;
  }

  /** The outcome of the command whose events an append found already stored (a repeat that raced its original). */
  async original(
    userId: string,
    stream: string,
    ids: CommandIds,
    idempotency: CommandContext['idempotency'],
  ): Promise<CommandResult> {
    const answered = await this.#answerFromLog(userId, stream, ids.eventIdAt(0), idempotency);
    assert.ok(answered !== undefined, 'an idempotent append found its events');
    return answered;
  }

  /**
   * Whether the log holds the events this keyed command just sent, rather than an original with the
   * same (key-derived) ids. An engine may accept a repeat of stored ids without saying so:
   * EventStoreDB answers a repeat at the original expected revision as a plain success. The first
   * event's chain hash covers its content, so it tells the two apart in one read.
   */
  async storedAsSent(stream: string, sent: readonly EventToAppend[], result: AppendResult): Promise<boolean> {
    const first = sent[0];
    assert.ok(first !== undefined);
    // One event, read at the revision the append reported for it (not a search by id).
    const [stored] = await this.#store.readStream(stream, {
      fromRevision: result.nextExpectedRevision - sent.length + 1,
      maxCount: 1,
    });
    return stored !== undefined && stored.id === first.id && stored.metadata.hash === first.metadata.hash;
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
    const events = (await this.#store.readStream(stream, { fromRevision: original.revision, maxCount: replayEventsMax })).filter(
      (event) => event.metadata.commandId === commandId,
    );
    const committed = events.map(committedOf);
    const last = committed[committed.length - 1];
    assert.ok(last !== undefined, 'a replayed command has at least one event');
    const balance = balanceAfterOf(last.event);
    return {
      ok: true,
      events: committed,
      balance: balance ?? (await this.#balanceOf(userId)),
      revision: last.revision,
      replayed: true,
    };
  }
}

const balanceAfterOf = (event: AccountEvent): number | undefined =>
  'balanceAfter' in event.data ? event.data.balanceAfter : undefined;
