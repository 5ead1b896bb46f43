import { readEventsMax, type EventStore, type RecordedEvent } from '../eventStore/eventStore.js';
import { eventHash, genesisHash } from '../shared/hashChain.js';

/** Limits of the audit walks, in one place. */
export const auditWalkLimits = {
  /** Events read per page of the global log (the stores cap a read at 1000). */
  readPageEventsMax: 1000,
} as const;

/** The first place a stream's chain does not hold. */
export type ChainBreak =
  | {
      /** An event is missing, or the stream's events are out of order: the next revision is not the expected one. */
      readonly kind: 'revision_gap';
      readonly stream: string;
      readonly revision: number;
      readonly position: number;
      readonly expectedRevision: number;
      readonly foundRevision: number;
    }
  | {
      /** The event does not name its predecessor's hash: something before it was removed, inserted or reordered. */
      readonly kind: 'prev_hash_mismatch';
      readonly stream: string;
      readonly revision: number;
      readonly position: number;
      readonly expectedHash: string;
      readonly foundHash: string;
    }
  | {
      /**
       * The stream, read as the ledger reads it, no longer returns events the log still holds: on
       * EventStoreDB a soft delete, a tombstone or `$tb`/`$maxCount`/`$maxAge` metadata hides a
       * stream's start (and the next scavenge removes it from the log too). `revision`/`position`
       * name the stream's first event in the log; `firstReadableRevision` where its reads now start
       * (-1: nothing is readable).
       */
      readonly kind: 'hidden';
      readonly stream: string;
      readonly revision: number;
      readonly position: number;
      readonly firstReadableRevision: number;
    }
  | {
      /** The event's content no longer hashes to its stored hash: it was edited after it was written. */
      readonly kind: 'content_hash_mismatch';
      readonly stream: string;
      readonly revision: number;
      readonly position: number;
      readonly expectedHash: string;
      readonly foundHash: string;
    };

/** A stream's last event as the walk found it. */
export interface StreamHead {
  readonly revision: number;
  /** The chain hash stored on that event (what the next event must name as `prevHash`). */
  readonly hash: string;
  readonly position: number;
}

interface StreamWalk {
  /** Position of the stream's first event (revision 0) in the log, -1 if the stream did not start with it. */
  firstPosition: number;
  revision: number;
  hash: string;
  position: number;
  broken: boolean;
}

export const storedHash = (event: RecordedEvent): string => {
  const hash = event.metadata.hash;
  return typeof hash === 'string' ? hash : '';
};

/**
 * Checks one event against the walk of its stream so far; returns the break it shows, if any.
 * Exported for the per-account readers, which check the chain of the one stream they fold.
 */
export const checkLink = (
  previous: { readonly revision: number; readonly hash: string },
  event: RecordedEvent,
): ChainBreak | undefined => {
  const { stream, revision, position } = event;
  if (revision !== previous.revision + 1)
    return { kind: 'revision_gap', stream, revision, position, expectedRevision: previous.revision + 1, foundRevision: revision };
  const prevHash = typeof event.metadata.prevHash === 'string' ? event.metadata.prevHash : '';
  if (prevHash !== previous.hash)
    return { kind: 'prev_hash_mismatch', stream, revision, position, expectedHash: previous.hash, foundHash: prevHash };
  const recomputed = eventHash({ stream, revision, type: event.type, data: event.data, metadata: event.metadata });
  const found = storedHash(event);
  if (recomputed !== found)
    return { kind: 'content_hash_mismatch', stream, revision, position, expectedHash: recomputed, foundHash: found };
  return undefined;
};

export interface ChainWalkResult {
  /** Every stream's last event (sorted by stream name), broken or not. */
  readonly heads: ReadonlyMap<string, StreamHead>;
  /** The first break of each broken stream, in log order. */
  readonly breaks: readonly ChainBreak[];
  /** Position of the last event read, -1 for an empty log. */
  readonly headPosition: number;
  readonly eventsRead: number;
}

export interface ChainWalkOptions {
  /** Stop after the event at this position (inclusive); the whole log by default. */
  readonly untilPosition?: number;
  /** Called after each page with the position reached and the events read so far. */
  readonly onProgress?: ((progress: { readonly position: number; readonly eventsRead: number }) => void) | undefined;
  /**
   * Only streams whose name starts with this (the whole log by default): a walk over part of a
   * log shared with others (a test run's streams on a shared EventStoreDB). Counts, heads and the
   * head position are then those of the streams walked.
   */
  readonly streamPrefix?: string | undefined;
  /** Called for every event, after its link was checked (the digest check watches revisions with it). */
  readonly onEvent?: ((event: RecordedEvent) => void) | undefined;
}

/**
 * The log is what the walk reads; the ledger reads streams. Where an engine can hide a stream's
 * events from stream reads while the log still holds them (EventStoreDB: deletes and truncating
 * metadata hide a stream's start), the two differ: each unbroken stream's first event must read back,
 * by stream and revision, as the event the walk found (batched, `readEventsMax` streams per call).
 */
const hiddenStarts = async (store: EventStore, streams: ReadonlyMap<string, StreamWalk>): Promise<ChainBreak[]> => {
  const hidden: ChainBreak[] = [];
  const checked = [...streams].filter(([, walk]) => !walk.broken && walk.firstPosition >= 0);
  for (let from = 0; from < checked.length; from += readEventsMax) {
    const batch = checked.slice(from, from + readEventsMax);
    const read = await store.readEvents(batch.map(([stream]) => ({ stream, revision: 0 })));
    for (const [i, [stream, walk]] of batch.entries()) {
      if (read[i]?.position === walk.firstPosition) continue;
      const [first] = await store.readStream(stream, { maxCount: 1 });
      hidden.push({
        kind: 'hidden',
        stream,
        revision: 0,
        position: walk.firstPosition,
        firstReadableRevision: first?.revision ?? -1,
      });
      walk.broken = true;
    }
  }
  return hidden;
};

/**
 * Walks the whole log once, in log order, checking every stream's hash chain link by link: the
 * revisions follow each other from 0, each event names its predecessor's hash, and each event's
 * content hashes to the hash it carries. Memory holds one page of events and one small record per
 * stream (its head), never the events themselves; each stream reports its first break only. Then
 * each unbroken stream's start is read back through the stream API (`hidden` when it no longer is).
 */
export const walkChains = async (store: EventStore, options: ChainWalkOptions = {}): Promise<ChainWalkResult> => {
  const streams = new Map<string, StreamWalk>();
  const breaks: ChainBreak[] = [];
  let position = -1;
  let eventsRead = 0;
  const until = options.untilPosition ?? Number.POSITIVE_INFINITY;
  const prefix = options.streamPrefix ?? '';
  for (let after = -1; ;) {
    const page = await store.readAll({ after, maxCount: auditWalkLimits.readPageEventsMax });
    if (page.length === 0) break;
    let reachedEnd = false;
    for (const event of page) {
      if (event.position > until) {
        reachedEnd = true;
        break;
      }
      after = event.position;
      if (!event.stream.startsWith(prefix)) continue;
      eventsRead += 1;
      position = event.position;
      let walk = streams.get(event.stream);
      if (walk === undefined) {
        walk = {
          firstPosition: event.revision === 0 ? event.position : -1,
          revision: -1,
          hash: genesisHash,
          position: -1,
          broken: false,
        };
        streams.set(event.stream, walk);
      }
      if (!walk.broken) {
        const broken = checkLink(walk, event);
        if (broken !== undefined) {
          walk.broken = true;
          breaks.push(broken);
        }
      }
      walk.revision = event.revision;
      walk.hash = storedHash(event);
      walk.position = event.position;
      options.onEvent?.(event);
    }
    options.onProgress?.({ position: after, eventsRead });
    // Only an empty page ends the log: an engine may return fewer events than asked for.
    if (reachedEnd) break;
  }
  breaks.push(...(await hiddenStarts(store, streams)));
  const heads = new Map<string, StreamHead>();
  for (const name of [...streams.keys()].sort()) {
    const walk = streams.get(name) as StreamWalk;
    heads.set(name, { revision: walk.revision, hash: walk.hash, position: walk.position });
  }
  return { heads, breaks, headPosition: position, eventsRead };
};
