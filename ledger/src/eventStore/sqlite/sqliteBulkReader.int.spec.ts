import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { accountEventOf } from '../../accounts/accountEvent.js';
import { removeTempDirs, tempDbFile } from '../../testing/tempDir.js';
import type { RecordedEvent } from '../eventStore.js';
import { readAllInBulk } from './sqliteBulkReader.js';
import { SqliteEventStore } from './sqliteEventStore.js';
import { openEventsDatabase } from './sqliteSchema.js';

afterEach(removeTempDirs);

const purchase = (n: number) => ({
  id: randomUUID(),
  type: 'CreditsPurchased',
  // Keys not in the schema's order, as a writer other than the ledger's decide may store them.
  data: { balanceAfter: 10 * (n + 1), counterparty: 'platform:sales', paymentRef: `p-${n}`, amount: 10 },
  metadata: { n },
});

/** A log of account events on a few streams, with events of another stream among them. */
const seeded = async (): Promise<{ path: string; store: SqliteEventStore }> => {
  const path = tempDbFile();
  const store = new SqliteEventStore({ path, durability: 'normal' });
  const revisions = new Map<string, number>();
  for (let n = 0; n < 120; n++) {
    const stream = n % 7 === 0 ? 'relay-other' : `account-u${n % 3}`;
    const event = stream === 'relay-other' ? { id: randomUUID(), type: 'Other', data: { n }, metadata: {} } : purchase(n);
    const revision = revisions.get(stream) ?? -1;
    if (stream.startsWith('account-')) event.data = { ...purchase(revision + 1).data };
    await store.append(stream, [event], { expectedRevision: revision === -1 ? 'no_stream' : revision });
    revisions.set(stream, revision + 1);
  }
  return { path, store };
};

const readAllOf = async (store: SqliteEventStore): Promise<RecordedEvent[]> => {
  const all: RecordedEvent[] = [];
  for (let after = -1; ;) {
    const batch = await store.readAll({ after, maxCount: 50 });
    if (batch.length === 0) return all;
    all.push(...batch);
    after = batch[batch.length - 1]?.position ?? after;
  }
};

const collect = async (batches: AsyncIterable<RecordedEvent[]>): Promise<RecordedEvent[][]> => {
  const all: RecordedEvent[][] = [];
  for await (const batch of batches) all.push(batch);
  return all;
};

describe('embedded store: bulk read', () => {
  it('gives what readAll gives, in order, across threads and ranges, with account events decoded', async () => {
    const { path, store } = await seeded();
    const expected = await readAllOf(store);
    const head = await store.headPosition();
    // Small ranges dealt to two threads: batches arrive from both, and must come out in log order.
    const batches = await collect(readAllInBulk(path, { after: -1, until: head }, { threads: 2, batchPositions: 7 }));
    expect(batches.length).toBeGreaterThan(10);
    const events = batches.flat();
    expect(events.map((e) => e.position)).toEqual(expected.map((e) => e.position));
    // Account events carry the validated data (the schema's key order); the rest are as stored.
    expect(events).toEqual(expected);
    for (const [i, recorded] of events.entries()) {
      const decoded = accountEventOf(recorded);
      if (!recorded.stream.startsWith('account-')) {
        expect(decoded).toBeUndefined();
        continue;
      }
      // Decoded on the reader thread: accountEventOf answers with the posted data itself…
      expect(decoded?.event.data).toBe(recorded.data);
      // …which is what validating the stored event gives, key order included.
      expect(JSON.stringify(recorded.data)).toBe(JSON.stringify(accountEventOf(expected[i] as RecordedEvent)?.event.data));
    }
    // A part of the log, through the store.
    const part = (await collect(store.readAllInBulk({ after: 40, until: 90 }))).flat();
    expect(part.map((e) => e.position)).toEqual(
      expected.filter((e) => e.position > 40 && e.position <= 90).map((e) => e.position),
    );
    await store.close();
  });

  it('fails on a corrupt account event, naming it, as every reader of the log does', async () => {
    const { path, store } = await seeded();
    const db = openEventsDatabase(path, 'normal');
    db.prepare("UPDATE events SET data = json_set(data, '$.amount', -5) WHERE position = 60").run();
    db.close();
    const reading = collect(
      readAllInBulk(path, { after: -1, until: await store.headPosition() }, { threads: 2, batchPositions: 10 }),
    );
    await expect(reading).rejects.toThrow(/corrupt event .* in account-u\d@\d+: CreditsPurchased: amount/);
    await store.close();
  });

  it('stops between batches when its signal fires', async () => {
    const { path, store } = await seeded();
    const stop = new AbortController();
    let batches = 0;
    const reading = (async () => {
      for await (const _ of readAllInBulk(
        path,
        { after: -1, until: await store.headPosition(), signal: stop.signal },
        { batchPositions: 10 },
      )) {
        if (++batches === 2) stop.abort(new Error('stopped'));
      }
    })();
    await expect(reading).rejects.toThrow('stopped');
    expect(batches).toBe(2);
    await store.close();
  });
});
