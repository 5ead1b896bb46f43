import { randomUUID } from 'node:crypto';
import { FORWARDS, type EventStoreDBClient } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { StreamRevisionConflictError } from '../errors.js';
import type { EventToAppend } from '../eventStore.js';
import { EsdbEventStore } from './esdbEventStore.js';

/**
 * The adapter's handling of what the client answers, against stand-ins that answer as the server and
 * client 6.2 do (no server can run here; the contract suite covers the real thing where EVENTSTORE_URL
 * is set): a repeat of stored ids at the same expected revision is answered exactly like the original
 * write (same revision, sometimes no position); with `throwOnAppendFailure=false` a wrong expected
 * revision resolves with `success: false`; reads hand out streams whose gRPC call runs until cancelled.
 */
interface Stored {
  readonly id: string;
  readonly revision: number;
  readonly position: number;
}

const recorded = (stream: string, event: Stored) => ({
  event: {
    id: event.id,
    type: 'CreditsPurchased',
    streamId: stream,
    revision: BigInt(event.revision),
    isJson: true,
    data: {},
    metadata: {},
    created: new Date(0),
    position: { commit: BigInt(event.position), prepare: BigInt(event.position) },
  },
});

/** A stream the stand-in holds, and what its appendToStream answers. */
const standIn = (
  stream: Stored[],
  answer: (expected: unknown, ids: string[]) => Record<string, unknown>,
): EventStoreDBClient & { appends: number } => {
  const client = {
    appends: 0,
    readStream: (name: string, options: { direction: unknown; fromRevision: unknown; maxCount: number }) => {
      const from = typeof options.fromRevision === 'bigint' ? Number(options.fromRevision) : undefined;
      const selected =
        options.direction === FORWARDS
          ? stream.filter((e) => from === undefined || e.revision >= from)
          : [...stream].reverse().filter((e) => from === undefined || e.revision <= from);
      return (async function* () {
        for (const event of selected.slice(0, options.maxCount)) yield recorded(name, event);
      })();
    },
    appendToStream: (_name: string, events: { id: string }[], options: { expectedRevision: unknown }) => {
      client.appends++;
      return Promise.resolve(
        answer(
          options.expectedRevision,
          events.map((e) => e.id),
        ),
      );
    },
  };
  return client as unknown as EventStoreDBClient & { appends: number };
};

const event = (id: string): EventToAppend => ({ id, type: 'CreditsPurchased', data: {}, metadata: {} });

describe('EventStoreDB adapter: appends', () => {
  it('reports a repeat of stored ids as idempotent with the original position, though the server answers it like a write', async () => {
    const id = randomUUID();
    const stream: Stored[] = [
      { id: randomUUID(), revision: 0, position: 100 },
      { id, revision: 1, position: 250 },
    ];
    // What the server answers for the repeat (and for the original): revision 1, no position.
    const client = standIn(stream, () => ({ success: true, nextExpectedRevision: 1n, position: undefined }));
    const store = new EsdbEventStore(client);
    expect(await store.append('account-u1', [event(id)], { expectedRevision: 0 })).toEqual({
      nextExpectedRevision: 1,
      position: 250,
      idempotent: true,
    });
    expect(client.appends).toBe(0); // recognised before sending it again
  });

  it('reports a fresh write as such, with the position the server gives', async () => {
    const client = standIn([{ id: randomUUID(), revision: 0, position: 100 }], () => ({
      success: true,
      nextExpectedRevision: 1n,
      position: { commit: 300n, prepare: 300n },
    }));
    const store = new EsdbEventStore(client);
    expect(await store.append('account-u1', [event(randomUUID())], { expectedRevision: 0 })).toEqual({
      nextExpectedRevision: 1,
      position: 300,
      idempotent: false,
    });
  });

  it('takes `success: false` (throwOnAppendFailure=false) for the conflict it is', async () => {
    const client = standIn([{ id: randomUUID(), revision: 0, position: 100 }], () => ({
      success: false,
      nextExpectedRevision: 0n,
      position: undefined,
    }));
    const store = new EsdbEventStore(client);
    await expect(store.append('account-u1', [event(randomUUID())], { expectedRevision: 5 })).rejects.toBeInstanceOf(
      StreamRevisionConflictError,
    );
  });
});

describe('EventStoreDB adapter: reads and subscriptions', () => {
  it('cancels the call behind a read it leaves early (a page full before the server is done)', async () => {
    let cancelled = 0;
    const client = {
      readAll: (options: { direction: unknown }) => {
        const events = Array.from({ length: 600 }, (_, n) => recorded('account-u1', { id: `e${n}`, revision: n, position: n }));
        if (options.direction !== FORWARDS) events.reverse();
        const iterable = (async function* () {
          yield* events;
        })();
        return Object.assign(iterable, {
          readableEnded: false,
          cancel: () => {
            cancelled++;
            return Promise.resolve();
          },
        });
      },
    } as unknown as EventStoreDBClient;
    const store = new EsdbEventStore(client);
    expect(await store.readAll({ maxCount: 10 })).toHaveLength(10);
    expect(cancelled).toBe(1);
    expect(await store.headPosition()).toBe(599);
    expect(cancelled).toBe(2);
  });

  it('a subscription asked for with an aborted signal ends at once instead of waiting for events', async () => {
    let subscribed = false;
    const client = {
      subscribeToAll: () => {
        subscribed = true;
        return {
          unsubscribe: () => Promise.resolve(),
          [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => undefined) }),
        };
      },
    } as unknown as EventStoreDBClient;
    const controller = new AbortController();
    controller.abort();
    const seen = [];
    for await (const recordedEvent of new EsdbEventStore(client).subscribeToAll({ signal: controller.signal }))
      seen.push(recordedEvent);
    expect(seen).toEqual([]);
    expect(subscribed).toBe(false);
  });
});
