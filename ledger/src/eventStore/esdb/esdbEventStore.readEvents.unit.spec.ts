import { describe, expect, it } from 'vitest';
import { readEventsMax } from '../eventStore.js';
import { esdbEventStoreLimits, EsdbEventStore } from './esdbEventStore.js';
import { esdbStandIn } from './esdbStandIn.js';

/**
 * `readEvents` on EventStoreDB: one point read per reference, a bounded number in flight, against the
 * stand-in client (the contract suite covers a real node where EVENTSTORE_URL is set). Hidden events
 * (deleted, tombstoned, below `$tb`) are no answer, never a later event of the stream.
 */
describe('EventStoreDB adapter: readEvents', () => {
  it('answers in the references’ order with at most readEventsInFlightMax reads in flight', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    for (let i = 0; i < 40; i++) server.put(`s-${i % 4}`, { id: `e${i}`, type: 'T', data: { i } });
    let inFlight = 0;
    let most = 0;
    const readStream = server.client.readStream.bind(server.client);
    (server.client as { readStream: unknown }).readStream = (...args: Parameters<typeof readStream>) => {
      inFlight++;
      most = Math.max(most, inFlight);
      const read = readStream(...args);
      return (async function* () {
        try {
          await new Promise((resolve) => setTimeout(resolve, 1));
          yield* read;
        } finally {
          inFlight--;
        }
      })() as unknown as ReturnType<typeof readStream>;
    };
    const refs = Array.from({ length: 100 }, (_, i) => ({ stream: `s-${i % 5}`, revision: (i * 3) % 12 }));
    const found = await store.readEvents(refs);
    expect(found.map((e) => (e === undefined ? null : [e.stream, e.revision]))).toEqual(
      refs.map((r) => (r.stream === 's-4' || r.revision >= 10 ? null : [r.stream, r.revision])),
    );
    expect(most).toBe(esdbEventStoreLimits.readEventsInFlightMax);
    await expect(
      store.readEvents(Array.from({ length: readEventsMax + 1 }, () => ({ stream: 's-0', revision: 0 }))),
    ).rejects.toThrow();
  });

  it('has no answer for an event hidden by $tb, a soft delete or a tombstone (not the next event the stream returns)', async () => {
    const server = esdbStandIn();
    const store = new EsdbEventStore(server.client);
    for (const stream of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) server.put(stream, { id: `${stream}${i}` });
    await server.client.setStreamMetadata('a', { truncateBefore: 2 });
    await server.client.deleteStream('b');
    await server.client.tombstoneStream('c');
    const found = await store.readEvents([
      { stream: 'a', revision: 0 },
      { stream: 'a', revision: 2 },
      { stream: 'b', revision: 0 },
      { stream: 'c', revision: 1 },
    ]);
    expect(found.map((e) => e?.id)).toEqual([undefined, 'a2', undefined, undefined]);
    expect(await store.readStream('c')).toEqual([]);
    // The log still holds all of them (until a scavenge).
    expect((await store.readAll()).map((e) => e.id)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2']);
  });
});
