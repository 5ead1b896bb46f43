// Over 400 lines on purpose: one contract suite for every adapter (emmett's features.ts), its parts
// (append, read, read by reference, side records, subscribe) sharing one fixture and its helpers; split,
// an adapter could be run against some parts and not others.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventIdConflictError, EventStoreUnavailableError, StreamRevisionConflictError } from './errors.js';
import { readEventsMax, type EventStore, type EventToAppend, type RecordedEvent } from './eventStore.js';

export interface ContractFixture {
  readonly store: EventStore;
  /** Every stream a test writes starts with this, so runs against a shared server do not collide. */
  readonly streamPrefix: string;
  readonly cleanup: () => Promise<void>;
}

const event = (type = 'Something', data: EventToAppend['data'] = { n: 1 }): EventToAppend => ({
  id: randomUUID(),
  type,
  data,
  metadata: { correlationId: 'c-1', causationId: 'c-0', actor: 'tester', schemaVersion: 1 },
});

/** Collects up to `count` events of a subscription whose stream starts with `prefix`. */
const collect = async (iterable: AsyncIterable<RecordedEvent>, prefix: string, count: number): Promise<RecordedEvent[]> => {
  const seen: RecordedEvent[] = [];
  for await (const recorded of iterable) {
    if (!recorded.stream.startsWith(prefix)) continue;
    seen.push(recorded);
    if (seen.length === count) break;
  }
  return seen;
};

/**
 * The event store contract: the behaviour every adapter must show, engine by engine. Written once,
 * run against the embedded store always and against EventStoreDB when EVENTSTORE_URL is set.
 */
export function runEventStoreContract(
  adapterName: string,
  open: () => Promise<ContractFixture>,
  capabilities: { readonly globalEventIdIndex: boolean } = { globalEventIdIndex: true },
): void {
  describe(`event store contract: ${adapterName}`, () => {
    let fixture: ContractFixture;
    let store: EventStore;
    let stream: (name: string) => string;

    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
      stream = (name) => `${fixture.streamPrefix}${name}-${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('append', () => {
      it('creates a stream at revision 0 with no_stream and continues with the exact revision', async () => {
        const s = stream('a');
        const first = await store.append(s, [event()], { expectedRevision: 'no_stream' });
        expect(first).toMatchObject({ nextExpectedRevision: 0, idempotent: false });
        const second = await store.append(s, [event(), event()], { expectedRevision: 0 });
        expect(second).toMatchObject({ nextExpectedRevision: 2, idempotent: false });
        expect(second.position).toBeGreaterThan(first.position);
        expect((await store.readStream(s)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('rejects a wrong expected revision with the ledger conflict error and writes nothing', async () => {
        const s = stream('conflict');
        await store.append(s, [event(), event()], { expectedRevision: 'no_stream' });
        const attempt = store.append(s, [event()], { expectedRevision: 0 });
        await expect(attempt).rejects.toBeInstanceOf(StreamRevisionConflictError);
        await attempt.catch((error: unknown) => {
          expect(error).toMatchObject({ type: 'stream_revision_conflict', stream: s, expectedRevision: 0, actualRevision: 1 });
        });
        await expect(store.append(s, [event()], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(
          StreamRevisionConflictError,
        );
        await expect(store.append(stream('missing'), [event()], { expectedRevision: 3 })).rejects.toBeInstanceOf(
          StreamRevisionConflictError,
        );
        expect(await store.readStream(s)).toHaveLength(2);
      });

      it("appends with 'any' whatever the stream's revision", async () => {
        const s = stream('any');
        await store.append(s, [event()], { expectedRevision: 'any' });
        const result = await store.append(s, [event()], { expectedRevision: 'any' });
        expect(result.nextExpectedRevision).toBe(1);
      });

      it('lets exactly one of many concurrent appends at the same expected revision win', async () => {
        const s = stream('race');
        await store.append(s, [event()], { expectedRevision: 'no_stream' });
        const outcomes = await Promise.allSettled(
          Array.from({ length: 10 }, () => store.append(s, [event()], { expectedRevision: 0 })),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(StreamRevisionConflictError);
        expect(await store.readStream(s)).toHaveLength(2);
      });

      it('treats a repeated append of the same event ids as a no-op returning the original position', async () => {
        const s = stream('idem');
        const events = [event(), event()];
        const original = await store.append(s, events, { expectedRevision: 'no_stream' });
        await store.append(s, [event()], { expectedRevision: 1 });
        // Same ids again, even with an expected revision that is now stale.
        const repeat = await store.append(s, events, { expectedRevision: 'no_stream' });
        expect(repeat).toEqual({
          nextExpectedRevision: original.nextExpectedRevision,
          position: original.position,
          idempotent: true,
        });
        expect(await store.readStream(s)).toHaveLength(3);
      });

      // EventStoreDB keeps no global id index: ids are unique per stream there (documented in the adapter).
      it.skipIf(!capabilities.globalEventIdIndex)(
        'refuses an event id that already names an event in another stream',
        async () => {
          const shared = event();
          const s1 = stream('owner');
          const s2 = stream('thief');
          await store.append(s1, [shared], { expectedRevision: 'no_stream' });
          await expect(store.append(s2, [shared], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventIdConflictError);
          expect(await store.readStream(s2)).toEqual([]);
        },
      );

      it('refuses a batch that mixes new and already-appended ids, writing none of it', async () => {
        const s = stream('mixed');
        const old = event();
        await store.append(s, [old], { expectedRevision: 'no_stream' });
        await expect(store.append(s, [old, event()], { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventIdConflictError);
        expect(await store.readStream(s)).toHaveLength(1);
      });

      it('keeps type, data and metadata exactly, unicode included', async () => {
        const s = stream('exact');
        const original = event('Ünïcödé', {
          text: 'ναι 🚀 \u200b',
          nested: { list: [1, 'two', null, true] },
          big: 9007199254740991,
        });
        await store.append(s, [original], { expectedRevision: 'no_stream' });
        const [read] = await store.readStream(s);
        expect(read).toMatchObject({
          id: original.id,
          type: original.type,
          data: original.data,
          metadata: original.metadata,
          stream: s,
          revision: 0,
        });
        expect(Number.isNaN(Date.parse(read?.recordedAt ?? ''))).toBe(false);
      });
    });

    describe('read', () => {
      it('reads a stream forwards and backwards from a revision, bounded by maxCount', async () => {
        const s = stream('read');
        await store.append(
          s,
          Array.from({ length: 10 }, (_, n) => event('N', { n })),
          { expectedRevision: 'no_stream' },
        );
        const revisions = (events: RecordedEvent[]): number[] => events.map((e) => e.revision);
        expect(revisions(await store.readStream(s, { fromRevision: 7 }))).toEqual([7, 8, 9]);
        expect(revisions(await store.readStream(s, { fromRevision: 2, maxCount: 3 }))).toEqual([2, 3, 4]);
        expect(revisions(await store.readStream(s, { direction: 'backwards', maxCount: 3 }))).toEqual([9, 8, 7]);
        expect(revisions(await store.readStream(s, { direction: 'backwards', fromRevision: 4, maxCount: 2 }))).toEqual([4, 3]);
        expect((await store.readStream(s, { fromRevision: 3, maxCount: 1 }))[0]?.data).toEqual({ n: 3 });
      });

      it('reads a stream that does not exist as empty', async () => {
        expect(await store.readStream(stream('nothing'))).toEqual([]);
        expect(await store.readStream(stream('nothing'), { direction: 'backwards' })).toEqual([]);
      });

      it('reads the global log after a position in bounded batches, in append order', async () => {
        const start = await store.headPosition();
        const s1 = stream('log1');
        const s2 = stream('log2');
        await store.append(s1, [event('A')], { expectedRevision: 'no_stream' });
        await store.append(s2, [event('B')], { expectedRevision: 'no_stream' });
        await store.append(s1, [event('C')], { expectedRevision: 0 });
        const mine: RecordedEvent[] = [];
        let after = start;
        for (;;) {
          const batch = await store.readAll({ after, maxCount: 2 });
          expect(batch.length).toBeLessThanOrEqual(2);
          if (batch.length === 0) break;
          for (const e of batch) expect(e.position).toBeGreaterThan(after);
          mine.push(...batch.filter((e) => e.stream === s1 || e.stream === s2));
          after = batch[batch.length - 1]?.position ?? after;
        }
        expect(mine.map((e) => e.type)).toEqual(['A', 'B', 'C']);
        expect(await store.headPosition()).toBe(after);
      });

      it('finds the first event of an indexed append by id, within its stream only', async () => {
        const s = stream('find');
        const e = event();
        await store.append(s, [event()], { expectedRevision: 'no_stream' });
        await store.append(s, [e, event()], { expectedRevision: 0, indexed: true });
        expect(await store.findEventInStream(s, e.id)).toMatchObject({ id: e.id, revision: 1, stream: s });
        expect(await store.findEventInStream(stream('other'), e.id)).toBeUndefined();
        expect(await store.findEventInStream(s, randomUUID())).toBeUndefined();
      });

      it('finds an indexed append however long the stream has grown since (no lookback window)', async () => {
        const s = stream('long');
        const keyed = event();
        await store.append(s, [keyed], { expectedRevision: 'no_stream', indexed: true });
        // Past the 10,000 events EventStoreDB's adapter once scanned back.
        const batch = 1000;
        for (let revision = 0; revision < 11 * batch; revision += batch) {
          await store.append(
            s,
            Array.from({ length: batch }, () => event()),
            { expectedRevision: revision },
          );
        }
        expect(await store.findEventInStream(s, keyed.id)).toMatchObject({ id: keyed.id, revision: 0 });
        // A repeat of it is still recognised as one, at its original expected revision or a stale other.
        const repeat = await store.append(s, [keyed], { expectedRevision: 'no_stream', indexed: true });
        expect(repeat).toMatchObject({ nextExpectedRevision: 0, idempotent: true });
        expect(await store.append(s, [keyed], { expectedRevision: 5, indexed: true })).toMatchObject({
          nextExpectedRevision: 0,
          idempotent: true,
        });
        expect((await store.readStream(s, { direction: 'backwards', maxCount: 1 }))[0]?.revision).toBe(11 * batch);
      }, 60_000);

      it('answers the same indexed append sent concurrently once as written and once as a repeat', async () => {
        const s = stream('racers');
        await store.append(s, [event()], { expectedRevision: 'no_stream' });
        const keyed = [event(), event()];
        const send = () => store.append(s, keyed, { expectedRevision: 0, indexed: true });
        // EventStoreDB may drop the repeat while the original is not yet replicated (the port's
        // retryable error, after the client's deadline): retried, it is answered as a repeat.
        const outcomes = await Promise.all(
          [send(), send()].map((sent) =>
            sent.catch((error: unknown) => {
              if (!(error instanceof EventStoreUnavailableError)) throw error;
              return send();
            }),
          ),
        );
        expect(outcomes.map((o) => o.idempotent).sort()).toEqual([false, true]);
        expect(outcomes[0]?.position).toBe(outcomes[1]?.position);
        expect(await store.readStream(s)).toHaveLength(3);
        expect(await store.findEventInStream(s, keyed[0]?.id ?? '')).toMatchObject({ revision: 1 });
      }, 30_000);
    });

    describe('read events by stream and revision', () => {
      it('answers one entry per reference, in their order, undefined where the stream has no such event', async () => {
        const a = stream('refs-a');
        const b = stream('refs-b');
        await store.append(a, [event('A0'), event('A1'), event('A2')], { expectedRevision: 'no_stream' });
        await store.append(b, [event('B0'), event('B1')], { expectedRevision: 'no_stream' });
        const [a0, a1, a2] = await store.readStream(a);
        const [b0, b1] = await store.readStream(b);
        const found = await store.readEvents([
          { stream: a, revision: 2 },
          { stream: b, revision: 0 },
          { stream: a, revision: 0 },
          { stream: stream('missing'), revision: 0 },
          { stream: a, revision: 3 },
          { stream: b, revision: 1 },
          { stream: b, revision: 0 },
          { stream: a, revision: 1 },
        ]);
        expect(found).toEqual([a2, b0, a0, undefined, undefined, b1, b0, a1]);
        expect(found.map((e) => e?.type)).toEqual(['A2', 'B0', 'A0', undefined, undefined, 'B1', 'B0', 'A1']);
        expect(await store.readEvents([])).toEqual([]);
      });

      it('reads a full batch of readEventsMax references in one call, and refuses more', async () => {
        const s = stream('refs-many');
        const count = 250;
        for (let from = 0; from < count; from += 50)
          await store.append(
            s,
            Array.from({ length: 50 }, () => event()),
            { expectedRevision: from === 0 ? 'no_stream' : from - 1 },
          );
        const refs = Array.from({ length: readEventsMax }, (_, i) => ({ stream: s, revision: (i * 7) % (count + 10) }));
        const found = await store.readEvents(refs);
        expect(found).toHaveLength(readEventsMax);
        found.forEach((e, i) => {
          const revision = (refs[i] as { revision: number }).revision;
          if (revision < count) expect(e).toMatchObject({ stream: s, revision });
          else expect(e).toBeUndefined();
        });
        const tooMany = [...refs, { stream: s, revision: 0 }];
        await expect((async () => store.readEvents(tooMany))()).rejects.toThrow();
      });
    });

    describe('side records', () => {
      it('reads a key never written as undefined, and the last write of a key', async () => {
        const key = `${fixture.streamPrefix}rec-${randomUUID()}`;
        expect(await store.readRecord(key)).toBeUndefined();
        await store.writeRecord(key, { n: 1, text: 'ναι 🚀', nested: { list: [1, null, true] } });
        expect(await store.readRecord(key)).toEqual({ n: 1, text: 'ναι 🚀', nested: { list: [1, null, true] } });
        await store.writeRecord(key, { n: 2 });
        await store.writeRecord(key, { n: 3 });
        expect(await store.readRecord(key)).toEqual({ n: 3 });
        expect(await store.readRecord(`${key}-other`)).toBeUndefined();
      });

      it('keeps records out of the log: not in readAll, subscriptions, or the stream they are about', async () => {
        const start = await store.headPosition();
        const s = stream('snap');
        // The key a snapshot of `s` will use: it must not read as part of `s`.
        await store.writeRecord(`snapshot:${s}`, { balance: 5 });
        await store.writeRecord(`checkpoint:${s}`, { position: 1 });
        expect(await store.headPosition()).toBe(start);
        expect(await store.readAll({ after: start })).toEqual([]);
        await store.append(s, [event('AfterRecords')], { expectedRevision: 'no_stream' });
        await store.writeRecord(`snapshot:${s}`, { balance: 6 });
        expect((await store.readAll({ after: start })).map((e) => e.type)).toEqual(['AfterRecords']);
        expect((await store.readStream(s)).map((e) => e.type)).toEqual(['AfterRecords']);
        const controller = new AbortController();
        const received = collect(store.subscribeToAll({ after: start, signal: controller.signal }), '', 1);
        await store.append(s, [event('Live')], { expectedRevision: 0 });
        // The first event delivered after `start` is ours: the record writes in between are not events.
        expect((await received).map((e) => e.type)).toEqual(['AfterRecords']);
        controller.abort();
        expect((await store.readAll({ after: start })).map((e) => e.type)).toEqual(['AfterRecords', 'Live']);
      });
    });

    describe('subscribe to all', () => {
      it('catches up from a position, then delivers live appends, and stops on abort', async () => {
        const start = await store.headPosition();
        const s = stream('sub');
        await store.append(s, [event('Before1'), event('Before2')], { expectedRevision: 'no_stream' });
        const controller = new AbortController();
        const received = collect(store.subscribeToAll({ after: start, signal: controller.signal }), fixture.streamPrefix, 4);
        await new Promise((resolve) => setTimeout(resolve, 50));
        await store.append(s, [event('Live1')], { expectedRevision: 1 });
        await store.append(s, [event('Live2')], { expectedRevision: 2 });
        expect((await received).map((e) => e.type)).toEqual(['Before1', 'Before2', 'Live1', 'Live2']);
        controller.abort();
      });

      it('starts strictly after the given position', async () => {
        const s = stream('after');
        await store.append(s, [event('One')], { expectedRevision: 'no_stream' });
        const second = await store.append(s, [event('Two'), event('Three')], { expectedRevision: 0 });
        const [two] = await store.readStream(s, { fromRevision: 1, maxCount: 1 });
        const controller = new AbortController();
        const received = await collect(
          store.subscribeToAll({ after: two?.position ?? -1, signal: controller.signal }),
          fixture.streamPrefix,
          1,
        );
        controller.abort();
        expect(received.map((e) => e.type)).toEqual(['Three']);
        expect(received[0]?.position).toBe(second.position);
      });

      it('ends the iteration when aborted while waiting for new events', async () => {
        const controller = new AbortController();
        const iteration = (async () => {
          let count = 0;
          for await (const _ of store.subscribeToAll({ after: await store.headPosition(), signal: controller.signal })) count++;
          return count;
        })();
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.abort();
        // Nothing was appended: it ends, promptly, having delivered nothing.
        const ended = await Promise.race([
          iteration,
          new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 2000)),
        ]);
        expect(ended).toBe(0);
      });

      it('delivers everything in order to a slow consumer (back-pressure, nothing dropped)', async () => {
        const start = await store.headPosition();
        const s = stream('slow');
        const total = 1500;
        for (let i = 0; i < total; i += 250) {
          await store.append(
            s,
            Array.from({ length: 250 }, (_, n) => event('N', { n: i + n })),
            {
              expectedRevision: i === 0 ? 'no_stream' : i - 1,
            },
          );
        }
        const controller = new AbortController();
        const seen: number[] = [];
        for await (const e of store.subscribeToAll({ after: start, signal: controller.signal })) {
          if (e.stream !== s) continue;
          if (seen.length % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
          seen.push(e.revision);
          if (seen.length === total) break;
        }
        controller.abort();
        expect(seen).toEqual(Array.from({ length: total }, (_, n) => n));
      });
    });
  });
}
