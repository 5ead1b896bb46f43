import Database from 'better-sqlite3';
import { DateTime } from 'luxon';
import { afterEach, describe, expect, it } from 'vitest';
import type { AccountCommand } from '../accounts/commands.js';
import { accountStream } from '../accounts/events.js';
import { AccountCommandHandler } from '../commandHandling/accountCommandHandler.js';
import type { JsonObject } from '../eventStore/eventStore.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import { balanceAsOf, balanceIndexBlocksOf, balanceIndexKey } from './balanceIndex.js';

const start = DateTime.fromISO('2026-06-29T13:30:00.000Z', { zone: 'utc' });
const iso = (t: DateTime): string => t.toUTC().toISO() ?? '';
const context = { actor: 't', correlationId: 'c', causationId: 'c' };
const stream = accountStream('u');
/** Small blocks, so a short history has several. */
const blockEvents = 4;

const stores: SqliteEventStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  removeTempDirs();
});

/** Twenty purchases of 1..20 credits, one a minute; the index built by one query as of the end. */
const seeded = async (): Promise<{ path: string; store: SqliteEventStore }> => {
  const path = tempDbFile();
  const store = new SqliteEventStore({ path });
  stores.push(store);
  const handler = new AccountCommandHandler(store);
  for (let i = 0; i < 20; i++) {
    const command: AccountCommand = {
      type: 'PurchaseCredits',
      amount: i + 1,
      paymentRef: `p${i}`,
      now: start.plus({ minutes: i }),
    };
    expect((await handler.execute('u', command, context)).ok).toBe(true);
  }
  const built = await balanceAsOf(store, stream, iso(start.plus({ hours: 1 })), { blockEvents });
  expect(built).toMatchObject({ balance: 210, indexRevision: -1, indexMismatch: false });
  return { path, store };
};

/** The balance after the purchase at minute m: 1 + 2 + … + (m + 1). */
const balanceAtMinute = (m: number): number => ((m + 1) * (m + 2)) / 2;

const blocksOf = async (store: SqliteEventStore) =>
  balanceIndexBlocksOf(await store.readRecord(balanceIndexKey(stream)), blockEvents) ?? [];

describe('the balance index', () => {
  it('is built by a fold to the end, one block per window, and answers from the block before the instant', async () => {
    const { store } = await seeded();
    expect((await blocksOf(store)).map((b) => [b.revision, b.balance])).toEqual([
      [3, 10],
      [7, 36],
      [11, 78],
      [15, 136],
      [19, 210],
    ]);
    // As of minute 9: the block ending at revision 7 (minute 7) is the last one wholly before it.
    const answer = await balanceAsOf(store, stream, iso(start.plus({ minutes: 9 })), { blockEvents });
    expect(answer).toMatchObject({ balance: balanceAtMinute(9), revision: 9, indexRevision: 7, indexMismatch: false });
    // It read the block's end and the next window, not the stream from its start.
    expect(answer.eventsRead).toBeLessThanOrEqual(2 * blockEvents);
  });

  const lies: [string, (block: unknown[]) => unknown[]][] = [
    ['a balance the log does not have', ([r, h, b, t]) => [r, h, (b as number) + 1, t]],
    ['a chain hash the log does not have', ([r, , b, t]) => [r, 'f'.repeat(64), b, t]],
    ['a revision whose event has another balance', ([r, h, b, t]) => [(r as number) - 1, h, b, t]],
  ];
  for (const [what, lie] of lies)
    it(`ignores a block that claims ${what}, answers from the log, and rewrites the index`, async () => {
      const { store } = await seeded();
      const record = (await store.readRecord(balanceIndexKey(stream))) as { blocks: unknown[][] } & JsonObject;
      const blocks = record.blocks.map((block, i) => (i === 1 ? lie(block) : block));
      await store.writeRecord(balanceIndexKey(stream), { ...record, blocks } as JsonObject);
      const answer = await balanceAsOf(store, stream, iso(start.plus({ minutes: 9 })), { blockEvents });
      expect(answer).toMatchObject({ balance: balanceAtMinute(9), indexRevision: -1, indexMismatch: true });
      // Rewritten from the fold (which stopped at minute 9): the lie is gone, the next answer uses the index.
      expect((await blocksOf(store)).map((b) => b.revision)).toEqual([3, 7]);
      const again = await balanceAsOf(store, stream, iso(start.plus({ minutes: 9 })), { blockEvents });
      expect(again).toMatchObject({ balance: balanceAtMinute(9), indexRevision: 7, indexMismatch: false });
    });

  it('ignores a record that is not an index (garbage, another block size)', async () => {
    const { store } = await seeded();
    await store.writeRecord(balanceIndexKey(stream), { version: 1, blockEvents: 1000, blocks: [] });
    const answer = await balanceAsOf(store, stream, iso(start.plus({ minutes: 30 })), { blockEvents });
    expect(answer).toMatchObject({ balance: 210, indexMismatch: true });
    await store.writeRecord(balanceIndexKey(stream), { version: 1, blockEvents, blocks: [[3, 'x', 10, 'soon']] });
    expect(await balanceAsOf(store, stream, iso(start.plus({ minutes: 30 })), { blockEvents })).toMatchObject({
      balance: 210,
      indexMismatch: true,
    });
  });

  it('notices a log rewritten under it (an edited block end) and a truncated stream', async () => {
    const { path, store } = await seeded();
    await store.close();
    stores.splice(0);
    const db = new Database(path);
    db.prepare("UPDATE events SET metadata = json_set(metadata, '$.hash', ?) WHERE stream = ? AND revision = 7").run(
      '0'.repeat(64),
      stream,
    );
    db.prepare('DELETE FROM events WHERE stream = ? AND revision >= 16').run(stream);
    db.close();
    const reopened = new SqliteEventStore({ path });
    stores.push(reopened);
    // The edited block end (revision 7) is refused.
    expect(await balanceAsOf(reopened, stream, iso(start.plus({ minutes: 9 })), { blockEvents })).toMatchObject({
      balance: balanceAtMinute(9),
      indexMismatch: true,
    });
    // The block ending at 19 points at a deleted event: refused, the fold stops where the log ends.
    await seededIndexOf(reopened);
    expect(await balanceAsOf(reopened, stream, iso(start.plus({ hours: 1 })), { blockEvents })).toMatchObject({
      balance: balanceAtMinute(15),
      revision: 15,
      indexMismatch: true,
    });
  });
});

/** Adds a block at revision 19, an event the truncation deleted: what an index written before it would name. */
const seededIndexOf = async (store: SqliteEventStore): Promise<void> => {
  const blocks = await blocksOf(store);
  const last = blocks[blocks.length - 1];
  if (last === undefined) throw new Error('no block');
  const record = (await store.readRecord(balanceIndexKey(stream))) as JsonObject;
  await store.writeRecord(balanceIndexKey(stream), {
    ...record,
    blocks: [...(record.blocks as unknown[][]), [19, last.hash, 210, iso(start.plus({ minutes: 19 }))]],
  } as JsonObject);
};
