import { randomUUID } from 'node:crypto';
import { WrongExpectedVersionError, type EventStoreDBClient } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { EventIdConflictError, EventStoreUnavailableError, StreamRevisionConflictError } from '../errors.js';
import type { EventToAppend } from '../eventStore.js';
import { EsdbEventStore, esdbStreamNames } from './esdbEventStore.js';
import { esdbStandIn } from './esdbStandIn.js';

/**
 * The adapter against a stand-in that answers as a KurrentDB server and client 6.2 do (see
 * esdbStandIn.ts for what it reproduces and where that was read); the contract suite covers the real
 * server where EVENTSTORE_URL is set.
 */
const event = (id: string = randomUUID()): EventToAppend => ({
  id,
  type: 'CreditsPurchased',
  data: { amount: 1 },
  metadata: { actor: 'u1' },
});
const many = (count: number): EventToAppend[] => Array.from({ length: count }, () => event());

describe('EventStoreDB adapter: appends', () => {
  it('reports a fresh write as such, with the position the server gives, and reads back exactly what was sent', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    await store.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    const sent = event();
    const result = await store.append('account-u1', [sent], { expectedRevision: 0 });
    expect(result).toEqual({ nextExpectedRevision: 1, position: server.log.at(-1)?.position, idempotent: false });
    const [read] = await store.readStream('account-u1', { fromRevision: 1 });
    expect(read).toMatchObject({ id: sent.id, data: sent.data, metadata: sent.metadata });
  });

  it('reports a repeat sent after its original as idempotent, with the original position', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    const ids = many(2);
    await store.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    const original = await store.append('account-u1', ids, { expectedRevision: 0 });
    // The server answers this one as a success with the original's revision and position (22.10+).
    expect(await store.append('account-u1', ids, { expectedRevision: 0 })).toEqual({ ...original, idempotent: true });
    expect(server.streams.get('account-u1')).toHaveLength(3);
  });

  it('tells the loser of two processes sending the same command that it was a repeat, though the server says success with a position', async () => {
    const server = esdbStandIn();
    const first = new EsdbEventStore(server.client);
    const second = new EsdbEventStore(server.client);
    await first.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    const ids = [event()];
    let original: Awaited<ReturnType<EsdbEventStore['append']>> | undefined;
    // The other process's append reaches the server just before this one.
    server.beforeAppend = async () => {
      server.beforeAppend = undefined;
      original = await first.append('account-u1', ids, { expectedRevision: 0 });
    };
    const repeat = await second.append('account-u1', ids, { expectedRevision: 0 });
    expect(original?.idempotent).toBe(false);
    expect(repeat).toEqual({ nextExpectedRevision: 1, position: original?.position, idempotent: true });
    expect(server.streams.get('account-u1')).toHaveLength(2);
  });

  it('answers a repeat the server drops (original not yet replicated) with a retryable error', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    const ids = [event()];
    await store.append('account-u1', ids, { expectedRevision: 'no_stream' });
    server.notReplicated.add('account-u1');
    await expect(store.append('account-u1', ids, { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
  });

  it('a repeat at another expected revision is a conflict unless the append is indexed, then it is found', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    const keyed = [event()];
    await store.append('account-u1', keyed, { expectedRevision: 'no_stream', indexed: true });
    await store.append('account-u1', many(3), { expectedRevision: 0 });
    await expect(store.append('account-u1', [event(keyed[0]?.id)], { expectedRevision: 2 })).rejects.toBeInstanceOf(
      StreamRevisionConflictError,
    );
    expect(await store.append('account-u1', keyed, { expectedRevision: 2, indexed: true })).toMatchObject({
      nextExpectedRevision: 0,
      idempotent: true,
    });
    expect(server.streams.get('account-u1')).toHaveLength(4);
  });

  it('refuses a batch mixing stored and new ids, with a revision or without', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    const old = event();
    await store.append('account-u1', [old], { expectedRevision: 'no_stream' });
    await expect(store.append('account-u1', [old, event()], { expectedRevision: 'no_stream' })).rejects.toBeInstanceOf(
      EventIdConflictError,
    );
    await expect(store.append('account-u1', [old, event()], { expectedRevision: 'any' })).rejects.toBeInstanceOf(
      EventIdConflictError,
    );
    expect(server.streams.get('account-u1')).toHaveLength(1);
  });

  it("reports a recent repeat sent with 'any' as idempotent", async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    const ids = many(2);
    const original = await store.append('account-u1', ids, { expectedRevision: 'any' });
    expect(await store.append('account-u1', ids, { expectedRevision: 'any' })).toEqual({ ...original, idempotent: true });
  });

  it('takes `success: false` (throwOnAppendFailure=false) for the conflict it is', async () => {
    const server = esdbStandIn();
    const answering = Object.assign(Object.create(server.client) as EventStoreDBClient, {
      appendToStream: async (...args: Parameters<EventStoreDBClient['appendToStream']>) => {
        try {
          return await server.client.appendToStream(...args);
        } catch (error) {
          if (!(error instanceof WrongExpectedVersionError)) throw error;
          return {
            success: false,
            nextExpectedRevision: typeof error.actualVersion === 'bigint' ? error.actualVersion : -1n,
            position: undefined,
          };
        }
      },
    });
    const store = new EsdbEventStore(answering);
    await store.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    await expect(store.append('account-u1', [event()], { expectedRevision: 5 })).rejects.toMatchObject({
      type: 'stream_revision_conflict',
      actualRevision: 0,
    });
  });
});

describe('EventStoreDB adapter: keyed lookups (indexed appends)', () => {
  /** Counts the events the adapter reads, to show a lookup does not grow with the stream. */
  const counting = (server: ReturnType<typeof esdbStandIn>) => {
    const reads = { events: 0 };
    const client = Object.assign(Object.create(server.client) as EventStoreDBClient, {
      readStream: (...args: Parameters<EventStoreDBClient['readStream']>) => {
        const inner = server.client.readStream(...args) as AsyncIterable<unknown>;
        return (async function* () {
          for await (const item of inner) {
            reads.events++;
            yield item;
          }
        })();
      },
    });
    return { client, reads };
  };

  it('finds an early keyed event of a stream far longer than the old 10,000-event window, reading two events', async () => {
    const server = esdbStandIn();
    const { client, reads } = counting(server);
    const store = new EsdbEventStore(client);
    const keyed = event();
    await store.append('account-u1', [keyed], { expectedRevision: 'no_stream', indexed: true });
    for (let i = 0; i < 12_000; i++) server.put('account-u1', { id: randomUUID() });
    reads.events = 0;
    expect(await store.findEventInStream('account-u1', keyed.id)).toMatchObject({ id: keyed.id, revision: 0 });
    expect(reads.events).toBe(2); // the index record and the event itself
    expect(await store.findEventInStream('account-u2', keyed.id)).toBeUndefined();
    expect(await store.findEventInStream('account-u1', randomUUID())).toBeUndefined();
  });

  it('a record left by a crash between the index write and the append finds nothing, and the retry is found', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    await store.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    const keyed = event();
    server.failNextAppend.add('account-u1');
    await expect(store.append('account-u1', [keyed], { expectedRevision: 0, indexed: true })).rejects.toBeInstanceOf(
      EventStoreUnavailableError,
    );
    expect(server.streams.get(esdbStreamNames.index(keyed.id))).toHaveLength(1);
    expect(await store.findEventInStream('account-u1', keyed.id)).toBeUndefined();
    // Another command takes the revision the record points at: still not found (it is not this id).
    server.put('account-u1', { id: randomUUID() });
    expect(await store.findEventInStream('account-u1', keyed.id)).toBeUndefined();
    // The retry lands at revision 2 and is found there.
    await store.append('account-u1', [keyed], { expectedRevision: 1, indexed: true });
    expect(await store.findEventInStream('account-u1', keyed.id)).toMatchObject({ revision: 2 });
  });

  it('two processes racing with the same ids both land on the one stored event', async () => {
    const server = esdbStandIn();
    const first = new EsdbEventStore(server.client);
    const second = new EsdbEventStore(server.client);
    await first.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    const keyed = [event(), event()];
    const outcomes = await Promise.all([
      first.append('account-u1', keyed, { expectedRevision: 0, indexed: true }),
      second.append('account-u1', keyed, { expectedRevision: 0, indexed: true }),
    ]);
    expect(outcomes.map((o) => o.idempotent).sort()).toEqual([false, true]);
    expect(outcomes[0]).toMatchObject({ nextExpectedRevision: 2, position: outcomes[1]?.position });
    expect(server.streams.get(esdbStreamNames.index(keyed[0]?.id ?? ''))).toHaveLength(2);
    expect(await second.findEventInStream('account-u1', keyed[0]?.id ?? '')).toMatchObject({ revision: 1 });
    expect(server.streams.get('account-u1')).toHaveLength(3);
  });

  it("refuses to index an append with expectation 'any' (it would not know where the append starts)", async () => {
    const store = new EsdbEventStore(esdbStandIn().client);
    await expect(store.append('account-u1', [event()], { expectedRevision: 'any', indexed: true })).rejects.toThrow(
      /definite expected revision/,
    );
  });
});

describe('EventStoreDB adapter: side records', () => {
  it('keeps the last write of a key in a one-event stream, hidden from the log', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    await store.append('account-u1', [event()], { expectedRevision: 'no_stream' });
    const head = await store.headPosition();
    expect(await store.readRecord('snapshot:account-u1')).toBeUndefined();
    for (let n = 1; n <= 3; n++) await store.writeRecord('snapshot:account-u1', { n });
    expect(await store.readRecord('snapshot:account-u1')).toEqual({ n: 3 });
    expect(server.metadata.get(esdbStreamNames.record('snapshot:account-u1'))).toEqual({ maxCount: 1 });
    // Nothing of it is part of the log, the account's stream or the head.
    expect(await store.headPosition()).toBe(head);
    expect(await store.readAll({ after: head })).toEqual([]);
    expect(await store.readStream('account-u1')).toHaveLength(1);
  });
});
