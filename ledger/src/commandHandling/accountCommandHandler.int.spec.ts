// The handler's behaviour end to end over a real SQLite log (idempotency, concurrency across processes,
// the cache): one suite, since idempotency.ts, retryOnConflict.ts and accountCache.ts are exercised through it.
import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import { accountStream } from '../accounts/events.js';
import { StreamRevisionConflictError } from '../eventStore/errors.js';
import type { EventStore, EventToAppend, ExpectedRevision } from '../eventStore/eventStore.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { eventHash, genesisHash } from '../shared/hashChain.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import {
  AccountCommandHandler,
  ConcurrencyRetriesExhaustedError,
  commandHandlerLimits,
  type CommandContext,
} from './accountCommandHandler.js';

const now = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
const context: CommandContext = { actor: 'user:u1', correlationId: 'req-1', causationId: 'req-1' };
const purchase = (amount: number): AccountCommand => ({ type: 'PurchaseCredits', amount, paymentRef: 'pay', now });
const spend = (amount: number): AccountCommand => ({
  type: 'SpendCredits',
  amount,
  targetType: 'gig',
  targetId: 'g1',
  reason: '',
  now,
});

const stores: EventStore[] = [];
const openStore = (path = tempDbFile()): SqliteEventStore => {
  const store = new SqliteEventStore({ path });
  stores.push(store);
  return store;
};
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  removeTempDirs();
});

describe('account command handler', () => {
  it('1,000 concurrent spends of 10 against 5,000 credits: exactly 500 succeed and the balance ends at 0', async () => {
    const store = openStore();
    const handler = new AccountCommandHandler(store);
    await handler.execute('u1', purchase(5000), context);

    const results = await Promise.all(Array.from({ length: 1000 }, () => handler.execute('u1', spend(10), context)));

    expect(results.filter((r) => r.ok)).toHaveLength(500);
    const rejected = results.filter((r) => !r.ok);
    expect(rejected).toHaveLength(500);
    for (const r of rejected)
      expect(r.ok === false && r.rejection).toMatchObject({
        code: 'INSUFFICIENT_CREDITS',
        details: { balance: 0, required: 10 },
      });
    expect((await handler.read('u1')).balance).toBe(0);

    // Never below zero: every recorded balance along the way, read back from the log by a fresh handler.
    const balances: number[] = [];
    for (let from = 0; ;) {
      const page = await store.readStream(accountStream('u1'), { fromRevision: from });
      if (page.length === 0) break;
      for (const e of page) balances.push(e.data.balanceAfter as number);
      from += page.length;
    }
    expect(balances).toHaveLength(501);
    expect(Math.min(...balances)).toBe(0);
    expect(balances.at(-1)).toBe(0);
    expect((await new AccountCommandHandler(store).read('u1')).balance).toBe(0);
  });

  it('appends nothing for a rejected command', async () => {
    const store = openStore();
    const handler = new AccountCommandHandler(store);
    const result = await handler.execute('u1', spend(1), context);
    expect(result).toMatchObject({ ok: false, rejection: { code: 'INSUFFICIENT_CREDITS' } });
    expect(await store.headPosition()).toBe(-1);
  });

  it('records actor, correlation, causation, schema version and a hash chain in the metadata', async () => {
    const store = openStore();
    const handler = new AccountCommandHandler(store);
    await handler.execute('u1', purchase(100), { actor: 'user:u1', correlationId: 'corr-7', causationId: 'cause-7' });
    await handler.execute('u1', spend(40), context);
    const [first, second] = await store.readStream(accountStream('u1'));
    expect(first?.metadata).toMatchObject({
      actor: 'user:u1',
      correlationId: 'corr-7',
      causationId: 'cause-7',
      schemaVersion: 1,
      commandType: 'PurchaseCredits',
      occurredAt: '2026-06-29T13:30:00.000Z',
      prevHash: genesisHash,
    });
    expect(second?.metadata.prevHash).toBe(first?.metadata.hash);
    for (const e of [first, second]) {
      if (e === undefined) throw new Error('missing event');
      expect(e.metadata.hash).toBe(
        eventHash({ stream: e.stream, revision: e.revision, type: e.type, data: e.data, metadata: e.metadata }),
      );
    }
  });

  it('refuses to load a stream whose hash chain was tampered with', async () => {
    const path = tempDbFile();
    const store = openStore(path);
    const handler = new AccountCommandHandler(store);
    await handler.execute('u1', purchase(100), context);
    await handler.execute('u1', spend(10), context);
    const [first] = await store.readStream(accountStream('u1'));
    // Rewrite history behind the ledger's back: a second writer appends an event with a forged chain.
    await store.append(
      accountStream('u1'),
      [
        {
          id: crypto.randomUUID(),
          type: 'CreditsPurchased',
          data: { amount: 5, paymentRef: 'x', counterparty: 'platform:sales', balanceAfter: 95 },
          metadata: { prevHash: first?.metadata.hash ?? '' },
        },
      ],
      { expectedRevision: 1 },
    );
    await expect(new AccountCommandHandler(store).read('u1')).rejects.toThrow(/hash chain broken at revision 2/);
  });

  it('refuses to load an event changed in place, its chain links left as they were', async () => {
    const path = tempDbFile();
    const store = openStore(path);
    const handler = new AccountCommandHandler(store);
    await handler.execute('u1', purchase(100), context);
    await store.close();
    // Someone with the file edits the purchase to a billion credits, keeping prevHash and hash.
    const db = new Database(path);
    db.prepare(`UPDATE events SET data = json_set(data, '$.amount', 1000000000, '$.balanceAfter', 1000000000)`).run();
    db.close();
    const reopened = openStore(path);
    await expect(new AccountCommandHandler(reopened).read('u1')).rejects.toThrow(/does not match its hash/);
    await expect(new AccountCommandHandler(reopened).execute('u1', spend(999_999_999), context)).rejects.toThrow(
      /does not match its hash/,
    );
    expect(await reopened.readStream(accountStream('u1'))).toHaveLength(1); // nothing chained onto it
  });

  describe('idempotency keys', () => {
    const keyed = (key: string, fingerprint = 'fp-1'): CommandContext => ({ ...context, idempotency: { key, fingerprint } });

    it('answers a repeated key with the original outcome and charges once', async () => {
      const store = openStore();
      const handler = new AccountCommandHandler(store);
      await handler.execute('u1', purchase(100), context);
      const first = await handler.execute('u1', spend(30), keyed('k-1'));
      const repeat = await handler.execute('u1', spend(30), keyed('k-1'));
      expect(first).toMatchObject({ ok: true, balance: 70, replayed: false });
      expect(repeat).toMatchObject({ ok: true, balance: 70, replayed: true });
      expect(repeat.ok && repeat.events.map((e) => e.id)).toEqual(first.ok && first.events.map((e) => e.id));
      expect((await handler.read('u1')).balance).toBe(70);
      expect(await store.readStream(accountStream('u1'))).toHaveLength(2);
    });

    it('returns the original success even when the state has since changed (no later INSUFFICIENT_CREDITS)', async () => {
      const store = openStore();
      const handler = new AccountCommandHandler(store);
      await handler.execute('u1', purchase(30), context);
      await handler.execute('u1', spend(30), keyed('k-1'));
      const repeat = await handler.execute('u1', spend(30), keyed('k-1'));
      expect(repeat).toMatchObject({ ok: true, balance: 0, replayed: true });
    });

    it('tells a keyed repeat from its own write on an engine that accepts repeats silently (EventStoreDB)', async () => {
      const store = openStore();
      // EventStoreDB answers a repeat of stored ids at the original expected revision as a plain success.
      const silent = new Proxy(store, {
        get: (target, key) => {
          if (key === 'append') {
            return async (...args: Parameters<EventStore['append']>) => ({
              ...(await target.append(...args)),
              idempotent: false,
            });
          }
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const a = new AccountCommandHandler(silent);
      const b = new AccountCommandHandler(silent);
      await a.execute('u1', purchase(100), context);
      // Two processes race the same key with different requests: both miss it, both append; the
      // log keeps the first, and the engine does not say the second was a repeat.
      const [first, second] = await Promise.all([
        a.execute('u1', spend(30), keyed('k-race', 'fp-a')),
        b.execute('u1', spend(31), keyed('k-race', 'fp-b')),
      ]);
      expect(first).toMatchObject({ ok: true, balance: 70, replayed: false });
      expect(second).toMatchObject({ ok: false, rejection: { code: 'IDEMPOTENCY_KEY_REUSED' } });
      expect((await b.read('u1')).balance).toBe(70);
      // The same request repeated is answered with the original.
      const same = await new AccountCommandHandler(silent).execute('u1', spend(30), keyed('k-race', 'fp-a'));
      expect(same).toMatchObject({ ok: true, balance: 70, replayed: true });
      expect(await store.readStream(accountStream('u1'))).toHaveLength(2);
    });

    it('after a conflict, a keyed command whose key another process already used answers from the log', async () => {
      const store = openStore();
      let appends = 0;
      // EventStoreDB: an append at a stale expected revision is a conflict, whatever its ids.
      const conflicting = new Proxy(store, {
        get: (target, key) => {
          if (key === 'append') {
            return async (...args: Parameters<EventStore['append']>) => {
              appends++;
              const result = await target.append(...args);
              if (result.idempotent) throw new StreamRevisionConflictError(args[0], args[2].expectedRevision, undefined);
              return result;
            };
          }
          const value: unknown = Reflect.get(target, key);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const a = new AccountCommandHandler(conflicting);
      const b = new AccountCommandHandler(conflicting);
      await a.execute('u1', purchase(100), context);
      await b.read('u1'); // b's cache: revision 0
      appends = 0;
      const [first, second] = await Promise.all([
        a.execute('u1', spend(30), keyed('k-two-gateways')),
        b.execute('u1', spend(30), keyed('k-two-gateways')),
      ]);
      expect(first).toMatchObject({ ok: true, balance: 70, replayed: false });
      expect(second).toMatchObject({ ok: true, balance: 70, replayed: true });
      expect(appends).toBe(2); // b tried once, saw the conflict, and found its key in the log
      expect(await store.readStream(accountStream('u1'))).toHaveLength(2);
    });

    it('rejects the same key with a different request as IDEMPOTENCY_KEY_REUSED', async () => {
      const store = openStore();
      const handler = new AccountCommandHandler(store);
      await handler.execute('u1', purchase(100), context);
      await handler.execute('u1', spend(30), keyed('k-1', 'fp-a'));
      const reused = await handler.execute('u1', spend(31), keyed('k-1', 'fp-b'));
      expect(reused).toMatchObject({ ok: false, rejection: { code: 'IDEMPOTENCY_KEY_REUSED' } });
      expect((await handler.read('u1')).balance).toBe(70);
    });

    it('still recognises the key after a restart', async () => {
      const path = tempDbFile();
      const before = openStore(path);
      await new AccountCommandHandler(before).execute('u1', purchase(100), keyed('buy-1'));
      await before.close();
      const after = openStore(path);
      const repeat = await new AccountCommandHandler(after).execute('u1', purchase(100), keyed('buy-1'));
      expect(repeat).toMatchObject({ ok: true, balance: 100, replayed: true });
      expect(await after.readStream(accountStream('u1'))).toHaveLength(1);
    });

    it('scopes keys per account: two users may use the same key', async () => {
      const store = openStore();
      const handler = new AccountCommandHandler(store);
      expect(await handler.execute('u1', purchase(5), keyed('same'))).toMatchObject({ ok: true, replayed: false });
      expect(await handler.execute('u2', purchase(5), keyed('same'))).toMatchObject({ ok: true, replayed: false });
    });

    it('charges once when the same key arrives many times at once', async () => {
      const store = openStore();
      const handler = new AccountCommandHandler(store);
      await handler.execute('u1', purchase(100), context);
      const results = await Promise.all(Array.from({ length: 20 }, () => handler.execute('u1', spend(10), keyed('burst'))));
      expect(results.filter((r) => r.ok && !r.replayed)).toHaveLength(1);
      expect(results.filter((r) => r.ok && r.replayed)).toHaveLength(19);
      expect((await handler.read('u1')).balance).toBe(90);
    });
  });

  describe('optimistic concurrency across processes', () => {
    it('two handlers (two processes) on one log never lose an update and never overdraw', async () => {
      const path = tempDbFile();
      const a = new AccountCommandHandler(openStore(path));
      const b = new AccountCommandHandler(openStore(path));
      await a.execute('u1', purchase(1000), context);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? a : b).execute('u1', spend(10), context)),
      );
      let accepted = 0;
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') {
          // Optimistic concurrency gives no fairness between processes: under a deliberate
          // hammering one may run out of attempts, which is reported (HTTP 409), never lost.
          expect(outcome.reason).toBeInstanceOf(ConcurrencyRetriesExhaustedError);
        } else if (outcome.value.ok) accepted++;
        else expect(outcome.value.rejection.code).toBe('INSUFFICIENT_CREDITS');
      }
      expect(accepted).toBeGreaterThanOrEqual(90);
      expect(accepted).toBeLessThanOrEqual(100);
      expect((await a.read('u1')).balance).toBe(1000 - 10 * accepted);
      expect((await b.read('u1')).balance).toBe(1000 - 10 * accepted);
      expect(await openStore(path).readStream(accountStream('u1'))).toHaveLength(1 + accepted);
    });

    it('reads only the tail past its cached revision after another writer moved the stream', async () => {
      const store = openStore();
      const reads: { fromRevision: number | undefined }[] = [];
      const counting: EventStore = Object.assign(Object.create(store) as EventStore, {
        readStream: (stream: string, options?: { fromRevision?: number; maxCount?: number }) => {
          reads.push({ fromRevision: options?.fromRevision });
          return store.readStream(stream, options);
        },
        append: (stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }) =>
          store.append(stream, events, options),
        findEventInStream: (stream: string, id: string) => store.findEventInStream(stream, id),
        readRecord: store.readRecord.bind(store),
        writeRecord: store.writeRecord.bind(store),
      });
      const handler = new AccountCommandHandler(counting);
      const other = new AccountCommandHandler(store);
      await handler.execute('u1', purchase(100), context);
      for (let i = 0; i < 5; i++) await other.execute('u1', spend(1), context);
      reads.length = 0;
      const result = await handler.execute('u1', spend(1), context);
      expect(result).toMatchObject({ ok: true, balance: 94, revision: 6 });
      expect(reads).toEqual([{ fromRevision: 1 }]);

      reads.length = 0;
      await handler.execute('u1', spend(1), context);
      expect(reads).toEqual([]); // the common case reads nothing at all
    });

    it('confirms a rejection decided on cached state against the log before answering', async () => {
      const path = tempDbFile();
      const a = new AccountCommandHandler(openStore(path));
      const b = new AccountCommandHandler(openStore(path));
      await a.execute('u1', purchase(5), context);
      // Another process credits the account: a's cache still says 5.
      await b.execute('u1', purchase(100), context);
      expect(await a.execute('u1', spend(50), context)).toMatchObject({ ok: true, balance: 55 });

      // And a boost another process activated can be expired by this one (not BOOST_NOT_FOUND).
      const boost: AccountCommand = {
        type: 'ActivateBoost',
        boostId: 'b-1',
        targetType: 'profile',
        targetId: 'star',
        amount: 5,
        durationHours: 1,
        now,
      };
      expect(await b.execute('u1', boost, context)).toMatchObject({ ok: true });
      const expire: AccountCommand = { type: 'ExpireBoost', boostId: 'b-1', now: now.plus({ hours: 2 }) };
      expect(await a.execute('u1', expire, context)).toMatchObject({ ok: true, events: [{ event: { type: 'BoostExpired' } }] });

      // A rejection that holds on the current log is still a rejection (and appends nothing).
      const head = await openStore(path).headPosition();
      expect(await a.execute('u1', spend(1000), context)).toMatchObject({
        ok: false,
        rejection: { code: 'INSUFFICIENT_CREDITS', details: { balance: 50, required: 1000 } },
      });
      expect(await openStore(path).headPosition()).toBe(head);
    });

    it('gives up with a typed error when the stream keeps moving under every attempt', async () => {
      const store = openStore();
      const interferer = new AccountCommandHandler(store);
      await interferer.execute('u1', purchase(1000), context);
      const hostile: EventStore = Object.assign(Object.create(store) as EventStore, {
        readStream: store.readStream.bind(store),
        findEventInStream: store.findEventInStream.bind(store),
        readRecord: store.readRecord.bind(store),
        writeRecord: store.writeRecord.bind(store),
        append: async (stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }) => {
          await interferer.execute('u1', spend(1), context); // another writer always gets there first
          return store.append(stream, events, options);
        },
      });
      const handler = new AccountCommandHandler(hostile);
      await expect(handler.execute('u1', spend(1), context)).rejects.toBeInstanceOf(ConcurrencyRetriesExhaustedError);
      expect((await interferer.read('u1')).balance).toBe(1000 - commandHandlerLimits.appendAttemptsMax);
    });
  });

  it('keeps only a bounded number of accounts in memory and reloads evicted ones correctly', async () => {
    const store = openStore();
    const reads: { stream: string; fromRevision: number | undefined }[] = [];
    const counting: EventStore = Object.assign(Object.create(store) as EventStore, {
      readStream: (stream: string, options?: { fromRevision?: number; maxCount?: number }) => {
        reads.push({ stream, fromRevision: options?.fromRevision });
        return store.readStream(stream, options);
      },
      append: (stream: string, events: readonly EventToAppend[], options: { expectedRevision: ExpectedRevision }) =>
        store.append(stream, events, options),
      findEventInStream: (stream: string, id: string) => store.findEventInStream(stream, id),
      readRecord: store.readRecord.bind(store),
      writeRecord: store.writeRecord.bind(store),
    });
    const handler = new AccountCommandHandler(counting, { cachedAccountsMax: 2 });
    for (const user of ['a', 'b', 'c', 'a', 'd', 'b']) await handler.execute(user, purchase(10), context);
    // Cached now: d and b (the two most recent). c was evicted: it is folded again from revision 0;
    // b is read only past its cached revision.
    reads.length = 0;
    expect((await handler.read('c')).balance).toBe(10);
    expect(reads).toEqual([{ stream: accountStream('c'), fromRevision: 0 }]);
    reads.length = 0;
    expect((await handler.read('b')).balance).toBe(20);
    expect(reads).toEqual([{ stream: accountStream('b'), fromRevision: 2 }]);
    expect((await handler.read('a')).balance).toBe(20);
  });

  it('folds a long history in pages', async () => {
    const store = openStore();
    const handler = new AccountCommandHandler(store);
    await handler.execute('u1', purchase(100_000), context);
    for (let i = 0; i < 2500; i += 500)
      await Promise.all(Array.from({ length: 500 }, () => handler.execute('u1', spend(1), context)));
    const fresh = new AccountCommandHandler(store);
    expect(await fresh.read('u1')).toMatchObject({ balance: 97_500, revision: 2500 });
  });
});
