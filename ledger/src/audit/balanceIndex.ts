import assert from 'node:assert/strict';
import type { EventStore, JsonObject, RecordedEvent } from '../eventStore/eventStore.js';
import { accountAuditLimits, occurredAtOf } from './accountAudit.js';
import { storedHash } from './chainWalk.js';

/** Limits of the balance index, in one place. */
export const balanceIndexLimits = {
  /**
   * Events per block: an as-of query reads at most about one block of the stream after the index
   * (one read page: the stores cap a read at 1000).
   */
  blockEventsMax: 1000,
  /**
   * Blocks kept per account. One block is about 110 bytes of JSON, so 5,000 stay well inside the
   * side record's 1 MiB (`eventStoreRecordLimits.valueBytesMax`); an account's first 5,000,000
   * events are indexed, an instant later than that folds from the last block on.
   */
  blocksMax: 5000,
} as const;

/** The side record holding one account stream's balance index. */
export const balanceIndexKey = (stream: string): string => `audit-balance-index:${stream}`;

/**
 * One block: the stream's prefix up to `revision` (a credit-moving event, the last one of its
 * window of `blockEventsMax` revisions), its balance there (`balanceAfter` of that event), its chain
 * hash, and the latest domain time of any event in the prefix.
 */
export interface BalanceIndexBlock {
  readonly revision: number;
  readonly hash: string;
  readonly balance: number;
  readonly occurredAtMax: string;
}

/**
 * The ledger writes instants as luxon's `toISO()` of a UTC time: `YYYY-MM-DDTHH:mm:ss.SSSZ`, fixed
 * width, so two of them compare as strings in time order, with no parsing on the hot path.
 */
const fixedWidthInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const hashPattern = /^[0-9a-f]{64}$/;

const recordOf = (blocks: readonly BalanceIndexBlock[], blockEvents: number): JsonObject => ({
  version: 1,
  blockEvents,
  blocks: blocks.map((b) => [b.revision, b.hash, b.balance, b.occurredAtMax]),
});

/**
 * The blocks of a record, or undefined when the record is not one this code wrote: a record that
 * does not parse, or whose blocks are not strictly increasing in revision and non-decreasing in time,
 * is ignored (and rewritten from the log), never trusted.
 */
export const balanceIndexBlocksOf = (
  record: JsonObject | undefined,
  blockEvents: number = balanceIndexLimits.blockEventsMax,
): BalanceIndexBlock[] | undefined => {
  if (record === undefined || record.version !== 1 || record.blockEvents !== blockEvents || !Array.isArray(record.blocks))
    return undefined;
  const blocks: BalanceIndexBlock[] = [];
  for (const raw of record.blocks) {
    if (!Array.isArray(raw) || raw.length !== 4) return undefined;
    const [revision, hash, balance, occurredAtMax] = raw;
    if (
      typeof revision !== 'number' ||
      !Number.isSafeInteger(revision) ||
      typeof hash !== 'string' ||
      !hashPattern.test(hash) ||
      typeof balance !== 'number' ||
      !Number.isSafeInteger(balance) ||
      balance < 0 ||
      typeof occurredAtMax !== 'string' ||
      !fixedWidthInstant.test(occurredAtMax)
    )
      return undefined;
    const previous = blocks[blocks.length - 1];
    if (previous !== undefined && (revision <= previous.revision || occurredAtMax < previous.occurredAtMax)) return undefined;
    if (previous === undefined && revision < 0) return undefined;
    blocks.push({ revision, hash, balance, occurredAtMax });
  }
  return blocks;
};

export interface BalanceAsOf {
  readonly balance: number;
  /** Revision of the last event folded, -1 when none is as old as the instant. */
  readonly revision: number;
  /** Its log position, -1 when none. */
  readonly position: number;
  /** Its domain time, null when none. */
  readonly occurredAt: string | null;
  readonly eventsFolded: number;
  /** Events read from the stream to answer (the index's block end included). */
  readonly eventsRead: number;
  /** Revision of the index block the fold started from, -1 when it started at the stream's start. */
  readonly indexRevision: number;
  /** True when the index disagreed with the log; the answer was then folded from the start of the stream. */
  readonly indexMismatch: boolean;
}

/** The fold of a stream from some point on, and the blocks it completes on its way. */
interface Fold {
  balance: number;
  last: RecordedEvent | undefined;
  eventsFolded: number;
  eventsRead: number;
  occurredAtMax: string;
  /** The last credit-moving event folded, and the latest time up to it: the next block's candidate end. */
  blockEnd: BalanceIndexBlock | undefined;
  /** Revision of the last block written or known; a new block must end after it. */
  lastBlockRevision: number;
  readonly blockEvents: number;
  newBlocks: BalanceIndexBlock[];
}

/** Folds one event; false when it occurred after the instant (the fold stops before it). */
const foldEvent = (fold: Fold, stream: string, event: RecordedEvent, asOf: string): boolean => {
  assert.equal(event.revision, (fold.last?.revision ?? -1) + 1, `${stream}: revision gap at ${event.revision}`);
  const occurredAt = occurredAtOf(event);
  assert.match(occurredAt, fixedWidthInstant, `${stream}@${event.revision}: occurredAt is not a UTC instant`);
  if (occurredAt > asOf) return false;
  if (occurredAt > fold.occurredAtMax) fold.occurredAtMax = occurredAt;
  const after = event.data.balanceAfter;
  if (after !== undefined) {
    assert.ok(typeof after === 'number' && Number.isSafeInteger(after) && after >= 0, `${stream}: balanceAfter`);
    fold.balance = after;
    const hash = storedHash(event);
    if (hashPattern.test(hash))
      fold.blockEnd = { revision: event.revision, hash, balance: after, occurredAtMax: fold.occurredAtMax };
  }
  // A window of revisions is complete: its last credit-moving event ends a block (a window with none adds no block).
  if ((event.revision + 1) % fold.blockEvents === 0 && fold.blockEnd !== undefined) {
    if (fold.blockEnd.revision > fold.lastBlockRevision) {
      fold.newBlocks.push(fold.blockEnd);
      fold.lastBlockRevision = fold.blockEnd.revision;
    }
  }
  fold.last = event;
  fold.eventsFolded += 1;
  return true;
};

/** Folds the stream from `fromRevision` until the first event after the instant, or the end. */
const foldFrom = async (store: EventStore, stream: string, asOf: string, fold: Fold, fromRevision: number): Promise<void> => {
  for (let revision = fromRevision; ;) {
    const page = await store.readStream(stream, { fromRevision: revision, maxCount: accountAuditLimits.readPageEventsMax });
    fold.eventsRead += page.length;
    for (const event of page) if (!foldEvent(fold, stream, event, asOf)) return;
    if (page.length === 0) return;
    revision = (page[page.length - 1] as RecordedEvent).revision + 1;
  }
};

const emptyFold = (blockEvents: number): Fold => ({
  blockEvents,
  balance: 0,
  last: undefined,
  eventsFolded: 0,
  eventsRead: 0,
  occurredAtMax: '',
  blockEnd: undefined,
  lastBlockRevision: -1,
  newBlocks: [],
});

/**
 * Whether the log confirms a block: the event at its revision exists, carries the block's chain hash
 * (so nothing up to it was edited, removed or reordered since the block was written: the chain hash
 * covers every event before it), has the block's balance as its `balanceAfter`, and occurred no later
 * than the block says the prefix did.
 */
const confirms = (block: BalanceIndexBlock, event: RecordedEvent | undefined): event is RecordedEvent =>
  event !== undefined &&
  event.revision === block.revision &&
  storedHash(event) === block.hash &&
  event.data.balanceAfter === block.balance &&
  occurredAtOf(event) <= block.occurredAtMax;

/**
 * An account's balance as of an instant: the fold of the stream's events up to it, that is, the
 * longest prefix of the stream (in revision order) whose events occurred at or before `asOf`. Every
 * credit-moving event carries `balanceAfter`, which the command handler's `evolve` checked against
 * the fold when it was written, so the fold up to such an event is its `balanceAfter`.
 *
 * The balance index (a side record, `balanceIndexKey`) finds the last block whose whole prefix
 * occurred by `asOf`; the fold starts at that block's end, after the log confirmed it (`confirms`),
 * and stops at the first later event, which lies in the next block: about one block read, whatever
 * the stream's length. An index the log does not confirm is ignored: the answer is folded from the
 * start and the index rewritten from that fold. Blocks the fold completes past the index's last one
 * are added to it (one side-record write per 1,000 new events at most).
 */
export const balanceAsOf = async (
  store: EventStore,
  stream: string,
  asOf: string,
  /** Tests use small blocks to reach the index path with short histories; production keeps the limit. */
  options: { readonly blockEvents?: number } = {},
): Promise<BalanceAsOf> => {
  assert.match(asOf, fixedWidthInstant, 'asOf is a UTC instant with milliseconds');
  const blockEvents = options.blockEvents ?? balanceIndexLimits.blockEventsMax;
  assert.ok(Number.isSafeInteger(blockEvents) && blockEvents >= 1 && blockEvents <= balanceIndexLimits.blockEventsMax);
  const key = balanceIndexKey(stream);
  const record = await store.readRecord(key);
  const indexed = balanceIndexBlocksOf(record, blockEvents);
  let blocks = indexed ?? [];
  let mismatch = record !== undefined && indexed === undefined;
  // The last block whose prefix occurred entirely by asOf (blocks are non-decreasing in time).
  let low = 0;
  let high = blocks.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((blocks[middle] as BalanceIndexBlock).occurredAtMax <= asOf) low = middle + 1;
    else high = middle;
  }
  const startIndex = low - 1;
  let fold = emptyFold(blockEvents);
  let indexRevision = -1;
  const start = blocks[startIndex];
  if (start !== undefined) {
    // The block's end and the next window: where the first event after asOf lies (in the usual case).
    const page = await store.readStream(stream, {
      fromRevision: start.revision,
      maxCount: Math.min(accountAuditLimits.readPageEventsMax, 2 * blockEvents),
    });
    const [head, ...rest] = page;
    if (confirms(start, head)) {
      indexRevision = start.revision;
      fold = {
        ...fold,
        balance: start.balance,
        last: head,
        eventsFolded: start.revision + 1,
        eventsRead: page.length,
        occurredAtMax: start.occurredAtMax,
        blockEnd: start,
        lastBlockRevision: (blocks[blocks.length - 1] as BalanceIndexBlock).revision,
      };
      let stopped = false;
      for (const event of rest)
        if (!foldEvent(fold, stream, event, asOf)) {
          stopped = true;
          break;
        }
      if (!stopped && page.length > 0)
        await foldFrom(store, stream, asOf, fold, (page[page.length - 1] as RecordedEvent).revision + 1);
    } else {
      mismatch = true;
      blocks = [];
    }
  }
  if (indexRevision === -1) {
    fold = {
      ...emptyFold(blockEvents),
      eventsRead: fold.eventsRead,
      lastBlockRevision: blocks[blocks.length - 1]?.revision ?? -1,
    };
    await foldFrom(store, stream, asOf, fold, 0);
  }
  // Only a fold that ran past the index's last block extends it; a fold from an earlier block adds nothing new.
  const room = balanceIndexLimits.blocksMax - blocks.length;
  if ((fold.newBlocks.length > 0 && room > 0) || mismatch)
    await store.writeRecord(key, recordOf([...blocks, ...fold.newBlocks.slice(0, Math.max(0, room))], blockEvents));
  return {
    balance: fold.balance,
    revision: fold.last?.revision ?? -1,
    position: fold.last?.position ?? -1,
    occurredAt: fold.last === undefined ? null : occurredAtOf(fold.last),
    eventsFolded: fold.eventsFolded,
    eventsRead: fold.eventsRead,
    indexRevision,
    indexMismatch: mismatch,
  };
};
