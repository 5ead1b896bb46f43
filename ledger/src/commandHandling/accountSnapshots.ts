import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { boostTargetTypes } from '../accounts/events.js';
import { accountLimits } from '../accounts/limits.js';
import type { ActiveBoost, AccountState } from '../accounts/state.js';
import { eventStoreRecordLimits, type EventStore, type JsonObject } from '../eventStore/eventStore.js';
import { canonicalJson } from '../shared/canonicalJson.js';
import type { LoadedAccount } from './accountCache.js';

export const accountSnapshotLimits = {
  /**
   * A snapshot is written each time an account's revision crosses a multiple of this, so a command
   * on any account folds a snapshot and fewer than this many events (a checked fold costs about 7.5 µs
   * an event here: at most ~1.5 ms). Each snapshot is one side-record write per 200 appends.
   */
  eventsPerSnapshot: 200,
  /** Snapshot writes under way at once in a process; past it a snapshot is skipped (the next crossing, or load, writes one). */
  writesInFlightMax: 8,
} as const;

/** The state's encoding in a snapshot. A snapshot of another version is ignored (and rewritten). */
export const accountSnapshotSchemaVersion = 1;

/** The side-record key of a stream's snapshot. */
export const snapshotKey = (stream: string): string => `snapshot:${stream}`;

// A snapshot holds at most activeBoostsPerAccountMax boosts of bounded ids: far under the record limit.
assert.ok(accountLimits.activeBoostsPerAccountMax * 4 * accountLimits.idLengthMax * 2 < eventStoreRecordLimits.valueBytesMax);

/**
 * Snapshots of folded account state, kept as side records of the event store (with the log, on every
 * engine, never in it). A snapshot is only a shortcut: it is trusted only if the log agrees with it
 * (see `load`), and otherwise ignored, so the worst a lost or bad snapshot costs is a full fold.
 */
export class AccountSnapshots {
  readonly #store: EventStore;
  readonly #eventsPerSnapshot: number;
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(store: EventStore, eventsPerSnapshot: number = accountSnapshotLimits.eventsPerSnapshot) {
    assert.ok(Number.isSafeInteger(eventsPerSnapshot) && eventsPerSnapshot > 0);
    this.#store = store;
    this.#eventsPerSnapshot = eventsPerSnapshot;
  }

  /**
   * The stream's snapshot, if there is one the log agrees with: it decodes, has this schema version,
   * and the stored event at its revision exists and carries its chain hash (and, when that event
   * records a balance, the same balance). Anything else reads as no snapshot.
   */
  async load(userId: string, stream: string): Promise<LoadedAccount | undefined> {
    const key = snapshotKey(stream);
    if (key.length > eventStoreRecordLimits.keyLengthMax) return undefined;
    const snapshot = decodeSnapshot(stream, userId, await this.#store.readRecord(key));
    if (snapshot === undefined) return undefined;
    const [there] = await this.#store.readStream(stream, { fromRevision: snapshot.revision, maxCount: 1 });
    if (there === undefined || there.revision !== snapshot.revision || there.metadata.hash !== snapshot.lastHash)
      return undefined;
    const balanceAfter = there.data.balanceAfter;
    if (typeof balanceAfter === 'number' && balanceAfter !== snapshot.state.balance) return undefined;
    return snapshot;
  }

  /** Whether an account folded from `fromRevision` to `account.revision` crossed a snapshot point. */
  due(fromRevision: number, toRevision: number): boolean {
    return Math.floor((toRevision + 1) / this.#eventsPerSnapshot) > Math.floor((fromRevision + 1) / this.#eventsPerSnapshot);
  }

  /**
   * Writes a snapshot of `account` off the command's path: the caller does not wait, at most one
   * write per stream and `writesInFlightMax` in all are under way (more are skipped), and a failed
   * write is dropped (the log is the truth; the next crossing or load writes another).
   */
  schedule(stream: string, account: LoadedAccount): void {
    const key = snapshotKey(stream);
    if (key.length > eventStoreRecordLimits.keyLengthMax) return;
    if (this.#inFlight.has(stream) || this.#inFlight.size >= accountSnapshotLimits.writesInFlightMax) return;
    const write = (async () => {
      // Encoding waits for the next turn of the event loop, after the command has answered.
      await new Promise(setImmediate);
      await this.#store.writeRecord(key, encodeSnapshot(stream, account));
    })()
      .catch(() => undefined)
      .finally(() => this.#inFlight.delete(stream));
    this.#inFlight.set(stream, write);
  }

  /** Resolves when the snapshot writes under way now have ended (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight.values()]);
  }
}

/** The snapshot record: where it stands (revision, chain hash), the state's version, the state, and a digest of all that. */
export const encodeSnapshot = (stream: string, account: LoadedAccount): JsonObject => {
  const body: JsonObject = {
    stream,
    revision: account.revision,
    lastHash: account.lastHash,
    schemaVersion: accountSnapshotSchemaVersion,
    state: {
      userId: account.state.userId,
      balance: account.state.balance,
      activeBoosts: [...account.state.activeBoosts.values()].map((boost) => ({ ...boost })),
    },
  };
  return { ...body, digest: digestOf(body) };
};

/**
 * The account a snapshot record stands for, or undefined when it cannot be used: not decodable,
 * another schema version, another stream or user, or a digest that does not match its content (an
 * edit that did not recompute it). The caller then checks it against the log.
 */
export const decodeSnapshot = (stream: string, userId: string, value: JsonObject | undefined): LoadedAccount | undefined => {
  if (value === undefined) return undefined;
  const { digest, ...body } = value;
  if (body.schemaVersion !== accountSnapshotSchemaVersion || body.stream !== stream || digest !== digestOf(body))
    return undefined;
  const { revision, lastHash, state } = body;
  if (!Number.isSafeInteger(revision) || typeof revision !== 'number' || revision < 0) return undefined;
  if (typeof lastHash !== 'string' || lastHash.length !== 64) return undefined;
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return undefined;
  const { userId: owner, balance, activeBoosts } = state;
  if (owner !== userId || typeof balance !== 'number' || !Number.isSafeInteger(balance) || balance < 0) return undefined;
  if (!Array.isArray(activeBoosts) || activeBoosts.length > accountLimits.activeBoostsPerAccountMax) return undefined;
  const boosts = new Map<string, ActiveBoost>();
  for (const boost of activeBoosts) {
    const decoded = boostOf(boost);
    if (decoded === undefined || boosts.has(decoded.boostId)) return undefined;
    boosts.set(decoded.boostId, decoded);
  }
  const decoded: AccountState = { userId, balance, activeBoosts: boosts };
  return { state: decoded, revision, lastHash };
};

const boostOf = (value: unknown): ActiveBoost | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const { boostId, targetType, targetId, amount, expiresAt, expiresAtMs } = value as Record<string, unknown>;
  if (typeof boostId !== 'string' || typeof targetId !== 'string' || typeof expiresAt !== 'string') return undefined;
  if (
    !boostTargetTypes.some((type) => type === targetType) ||
    !Number.isSafeInteger(amount) ||
    !Number.isSafeInteger(expiresAtMs)
  )
    return undefined;
  return {
    boostId,
    targetType: targetType as ActiveBoost['targetType'],
    targetId,
    amount: amount as number,
    expiresAt,
    expiresAtMs: expiresAtMs as number,
  };
};

const digestOf = (body: JsonObject): string => hash('sha256', canonicalJson(body), 'hex');
