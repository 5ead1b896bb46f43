import type { BACKWARDS } from '@eventstore/db-client';
import { END, FORWARDS, START, type EventStoreDBClient, type Position } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { EsdbEventStore } from './esdbEventStore.js';

/**
 * The adapter's paging over `$all` against a stand-in for the client's `readAll` (no server can run
 * here; the contract suite covers the real thing where EVENTSTORE_URL is set). The stand-in keeps the
 * server's rules (KurrentDB `AllReader`): a forward read includes `fromPosition`, a backward read
 * excludes it (it returns what lies before), `maxCount` bounds what comes back, and the server returns
 * system events and the adapter's own hidden streams (side records, id index) along with the log.
 */
interface Raw {
  readonly position: number;
  readonly ours: boolean;
}

const standIn = (log: readonly Raw[]): EventStoreDBClient =>
  ({
    readAll: (options: {
      direction: typeof FORWARDS | typeof BACKWARDS;
      fromPosition: Position | typeof START | typeof END;
      maxCount: number;
    }) => {
      const from = options.fromPosition;
      const selected =
        options.direction === FORWARDS
          ? log.filter((r) => from === START || r.position >= Number((from as Position).commit))
          : [...log].reverse().filter((r) => from === END || r.position < Number((from as Position).commit));
      return (async function* () {
        for (const raw of selected.slice(0, options.maxCount)) {
          yield {
            event: {
              id: `e${raw.position}`,
              type: raw.ours ? 'CreditsPurchased' : raw.position % 2 === 0 ? '$statsCollected' : 'LedgerRecordWritten',
              streamId: raw.ours
                ? 'account-u1'
                : raw.position % 2 === 0
                  ? '$stats-127.0.0.1:2113'
                  : 'ledger.record-snapshot:account-u1',
              revision: BigInt(raw.position),
              isJson: true,
              data: {},
              metadata: {},
              created: new Date(0),
              position: { commit: BigInt(raw.position), prepare: BigInt(raw.position) },
            },
          };
        }
      })();
    },
  }) as unknown as EventStoreDBClient;

/** Ours at 0–99, 3,000 system or hidden events, ours at 3,100–3,149, then 200 of them at the end. */
const log: Raw[] = Array.from({ length: 3350 }, (_, position) => ({
  position,
  ours: position < 100 || (position >= 3100 && position < 3150),
}));

describe('EventStoreDB adapter: paging over $all past events that are not ours', () => {
  it('readAll never answers an empty page while events of ours follow a long run of system events', async () => {
    const store = new EsdbEventStore(standIn(log));
    const seen: number[] = [];
    for (let after = -1; ;) {
      const page = await store.readAll({ after, maxCount: 100 });
      if (page.length === 0) break;
      seen.push(...page.map((e) => e.position));
      after = page[page.length - 1]?.position ?? after;
    }
    const ours = log.filter((r) => r.ours).map((r) => r.position);
    expect(seen).toEqual(ours); // each once, in order, none skipped
  });

  it('readAll answers exactly maxCount when more follow, and starts after `after`', async () => {
    const store = new EsdbEventStore(standIn(log));
    expect((await store.readAll({ after: 99, maxCount: 10 })).map((e) => e.position)).toEqual(
      Array.from({ length: 10 }, (_, i) => 3100 + i),
    );
    expect(await store.readAll({ after: 3149, maxCount: 10 })).toEqual([]);
  });

  it('headPosition looks past a tail of system and hidden events', async () => {
    expect(await new EsdbEventStore(standIn(log)).headPosition()).toBe(3149);
    // Ours exactly one backward page (64) behind the end: the next page starts before the last one's oldest.
    const edge = Array.from({ length: 200 }, (_, position) => ({ position, ours: position === 200 - 65 }));
    expect(await new EsdbEventStore(standIn(edge)).headPosition()).toBe(135);
    expect(await new EsdbEventStore(standIn(log.map((r) => ({ ...r, ours: false })))).headPosition()).toBe(-1);
  });
});
