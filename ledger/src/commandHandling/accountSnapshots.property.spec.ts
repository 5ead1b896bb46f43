// Snapshots of account state (accountSnapshots.ts) over a real SQLite log: a state loaded from a
// snapshot equals the full fold, and a snapshot the log does not agree with is ignored.
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import { accountEventOf } from '../accounts/accountEvent.js';
import { accountStream } from '../accounts/events.js';
import { evolve, initialState, type AccountState } from '../accounts/state.js';
import type { EventStore, JsonObject } from '../eventStore/eventStore.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import { AccountCommandHandler, type CommandContext } from './accountCommandHandler.js';
import { accountSnapshotSchemaVersion, decodeSnapshot, encodeSnapshot, snapshotKey } from './accountSnapshots.js';

const start = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
const context: CommandContext = { actor: 'user:u1', correlationId: 'c', causationId: 'c' };

const stores: EventStore[] = [];
const open = (path: string): SqliteEventStore => {
  const store = new SqliteEventStore({ path, durability: 'normal' });
  stores.push(store);
  return store;
};
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  removeTempDirs();
});

/** The account folded from its whole log, without the handler (and without any snapshot). */
const fullFold = async (store: EventStore, userId: string): Promise<{ state: AccountState; revision: number }> => {
  let state = initialState(userId);
  let revision = -1;
  for (;;) {
    const page = await store.readStream(accountStream(userId), { fromRevision: revision + 1, maxCount: 1000 });
    for (const recorded of page) {
      const decoded = accountEventOf(recorded);
      if (decoded === undefined) throw new Error('not an account event');
      state = evolve(state, decoded.event);
      revision = recorded.revision;
    }
    if (page.length < 1000) return { state, revision };
  }
};

/** A store that counts the events the handler reads from the account stream. */
const counting = (store: EventStore): { store: EventStore; eventsRead: () => number } => {
  let read = 0;
  const wrapped: EventStore = Object.assign(Object.create(store) as EventStore, {
    readStream: async (s: string, options?: Parameters<EventStore['readStream']>[1]) => {
      const page = await store.readStream(s, options);
      read += page.length;
      return page;
    },
    append: store.append.bind(store),
    findEventInStream: store.findEventInStream.bind(store),
    readRecord: store.readRecord.bind(store),
    writeRecord: store.writeRecord.bind(store),
  });
  return { store: wrapped, eventsRead: () => read };
};

type Step =
  | { kind: 'purchase'; amount: number }
  | { kind: 'spend'; amount: number }
  | { kind: 'boost'; amount: number }
  | { kind: 'expire'; pick: number }
  | { kind: 'tick'; minutes: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('purchase' as const), amount: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ kind: fc.constant('spend' as const), amount: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('boost' as const), amount: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('expire' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('tick' as const), minutes: fc.integer({ min: 1, max: 120 }) }),
);

/** Runs a random history through the handler on `userId`'s account (rejected commands append nothing). */
const play = async (handler: AccountCommandHandler, userId: string, steps: readonly Step[]): Promise<void> => {
  let now = start;
  const boosts: string[] = [];
  for (const [i, s] of steps.entries()) {
    let command: AccountCommand | undefined;
    if (s.kind === 'tick') now = now.plus({ minutes: s.minutes });
    else if (s.kind === 'purchase') command = { type: 'PurchaseCredits', amount: s.amount, paymentRef: `p${i}`, now };
    else if (s.kind === 'spend')
      command = { type: 'SpendCredits', amount: s.amount, targetType: 'gig', targetId: 'g1', reason: '', now };
    else if (s.kind === 'boost') {
      boosts.push(`b${i}`);
      command = {
        type: 'ActivateBoost',
        boostId: `b${i}`,
        targetType: 'gig',
        targetId: 'g1',
        amount: s.amount,
        durationHours: 1,
        now,
      };
    } else if (boosts.length > 0) command = { type: 'ExpireBoost', boostId: boosts[s.pick % boosts.length] ?? '', now };
    if (command !== undefined) await handler.execute(userId, command, context);
  }
};

describe('account snapshots', () => {
  it('a state loaded from a snapshot and the tail equals the full fold, for random histories', async () => {
    const store = open(tempDbFile());
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 8 }), async (steps, every) => {
        // One log for all runs, an account per run; a new handler (an empty cache) is a restart.
        const userId = `u${++runs}`;
        const writer = new AccountCommandHandler(store, { eventsPerSnapshot: every });
        await play(writer, userId, steps);
        await writer.snapshotsSettled();
        const expected = await fullFold(store, userId);
        const { store: watched, eventsRead } = counting(store);
        const restarted = new AccountCommandHandler(watched, { eventsPerSnapshot: every });
        const loaded = await restarted.read(userId);
        expect({ state: loaded.state, revision: loaded.revision }).toEqual(expected);
        // A snapshot and at most `every` events (plus the one event the snapshot is checked against).
        expect(eventsRead()).toBeLessThanOrEqual(every + 1);
      }),
      { numRuns: 40 },
    );
  }, 120_000);

  const stream = accountStream('u1');
  /** Six events on u1, snapshots every 4: one snapshot, at revision 3. */
  const history = async (path: string): Promise<EventStore> => {
    const store = open(path);
    const handler = new AccountCommandHandler(store, { eventsPerSnapshot: 4 });
    await play(handler, 'u1', [
      { kind: 'purchase', amount: 300 },
      { kind: 'boost', amount: 10 },
      { kind: 'spend', amount: 5 },
      { kind: 'purchase', amount: 7 },
      { kind: 'spend', amount: 1 },
      { kind: 'purchase', amount: 2 },
    ]);
    await handler.snapshotsSettled();
    return store;
  };

  it('writes a snapshot at the revision it stands at, with its chain hash and the state version', async () => {
    const store = await history(tempDbFile());
    const snapshot = await store.readRecord(snapshotKey(stream));
    const [at] = await store.readStream(stream, { fromRevision: 3, maxCount: 1 });
    expect(snapshot).toMatchObject({ revision: 3, lastHash: at?.metadata.hash, schemaVersion: accountSnapshotSchemaVersion });
  });

  const tampered: [string, (snapshot: JsonObject) => JsonObject][] = [
    ['a wrong chain hash (digest recomputed)', (s) => reencode(s, { lastHash: 'f'.repeat(64) })],
    ['an edited balance (digest recomputed)', (s) => reencode(s, { balance: 1_000_000 })],
    ['an edited balance (digest kept)', (s) => ({ ...s, state: { ...(s.state as JsonObject), balance: 1_000_000 } })],
    ['a boost removed (digest kept)', (s) => ({ ...s, state: { ...(s.state as JsonObject), activeBoosts: [] } })],
    ['an old schema version', (s) => ({ ...s, schemaVersion: accountSnapshotSchemaVersion - 1 })],
    ['a value that does not decode', () => ({ hello: 'world' })],
  ];
  it.each(tampered)('ignores a snapshot with %s and folds the log instead', async (_name, tamper) => {
    const store = await history(tempDbFile());
    const snapshot = await store.readRecord(snapshotKey(stream));
    if (snapshot === undefined) throw new Error('no snapshot written');
    await store.writeRecord(snapshotKey(stream), tamper(snapshot));
    const { store: watched, eventsRead } = counting(store);
    const loaded = await new AccountCommandHandler(watched, { eventsPerSnapshot: 4 }).read('u1');
    expect({ state: loaded.state, revision: loaded.revision }).toEqual(await fullFold(store, 'u1'));
    expect(loaded.balance).toBe(300 - 10 - 5 + 7 - 1 + 2);
    expect(eventsRead()).toBeGreaterThanOrEqual(6); // the whole stream, not the tail after the snapshot
  });

  it('ignores a snapshot that stands beyond the end of a truncated log', async () => {
    const path = tempDbFile();
    await (await history(path)).close();
    // The log loses its last events (restored from an older backup), the side records do not.
    const db = new Database(path);
    db.prepare('DELETE FROM events WHERE stream = ? AND revision > 1').run(stream);
    db.close();
    const store = open(path);
    expect(await store.readRecord(snapshotKey(stream))).toMatchObject({ revision: 3 });
    const loaded = await new AccountCommandHandler(store, { eventsPerSnapshot: 4 }).read('u1');
    expect(loaded.revision).toBe(1);
    expect({ state: loaded.state, revision: loaded.revision }).toEqual(await fullFold(store, 'u1'));
  });

  it('decodes only what it encoded for the same stream and user', () => {
    const stream = accountStream('u1');
    const account = { state: initialState('u1'), revision: 3, lastHash: 'a'.repeat(64) };
    const encoded = encodeSnapshot(stream, account);
    expect(decodeSnapshot(stream, 'u1', encoded)).toEqual(account);
    expect(decodeSnapshot(accountStream('u2'), 'u2', encoded)).toBeUndefined();
    expect(decodeSnapshot(stream, 'u1', undefined)).toBeUndefined();
  });
});

/** A snapshot edited and its digest recomputed, as a writer who knows the format would. */
const reencode = (snapshot: JsonObject, change: { lastHash?: string; balance?: number }): JsonObject => {
  const stream = accountStream('u1');
  const decoded = decodeSnapshot(stream, 'u1', snapshot);
  if (decoded === undefined) throw new Error('snapshot does not decode');
  return encodeSnapshot(stream, {
    ...decoded,
    lastHash: change.lastHash ?? decoded.lastHash,
    state: { ...decoded.state, balance: change.balance ?? decoded.state.balance },
  });
};
