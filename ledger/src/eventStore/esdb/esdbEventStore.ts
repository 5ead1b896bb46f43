// Over 400 lines on purpose: this is the whole EventStoreDB adapter, one class implementing the port.
// Each operation's translation (revisions, repeats recognised by their ids, the id index, side records,
// paging of $all) leans on the same few helpers; split across files they would have to be exported.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  ANY,
  BACKWARDS,
  CancelledError,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  NotLeaderError,
  START,
  StreamDeletedError,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  DeadlineExceededError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { EventIdConflictError, EventStoreUnavailableError, StreamRevisionConflictError } from '../errors.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  JsonObject,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamRevision,
  SubscribeToAllOptions,
} from '../eventStore.js';
import { readEventsMax } from '../eventStore.js';
import { checkRecord } from '../records.js';

/** Limits of the EventStoreDB adapter, in one place. */
export const esdbEventStoreLimits = {
  /** Largest batch one read returns. */
  readBatchEventsMax: 1000,
  /** Smallest raw page `readAll` asks the server for (system events are dropped from it here). */
  rawPageEventsMin: 500,
  /** Raw page `headPosition` reads backwards from the end of `$all`, past system events. */
  headPageEventsMax: 64,
  /**
   * Point reads `readEvents` keeps in flight at once. The server has no multi-stream read, so a
   * batch is one read per reference, sent in parallel up to this bound (a few round trips for a
   * batch of 1000 instead of 1000).
   */
  readEventsInFlightMax: 32,
} as const;

/**
 * Streams the adapter keeps beside the ledger's own. The `ledger.` prefix cannot collide with the
 * ledger's streams (`account-…`, and any other `<category>-<id>`: none has a dot in its category),
 * and everything under it is hidden from `readAll`, `subscribeToAll` and `headPosition`.
 */
export const esdbStreamNames = {
  /** One stream per side record, holding only its last write (`$maxCount: 1`). */
  record: (key: string): string => `ledger.record-${key}`,
  /** One stream per indexed event id: where appends starting with that id were sent. */
  index: (eventId: string): string => `ledger.index-${eventId}`,
  hiddenPrefix: 'ledger.',
} as const;

/**
 * Metadata key of a nonce the adapter adds to the first event of each append (and removes on read),
 * so that reading the event back tells this append from an earlier one with the same ids.
 */
const appendIdKey = '$ledger.appendId';

/** Event types of the adapter's own streams. */
const recordWrittenType = 'LedgerRecordWritten';
const eventIndexedType = 'LedgerEventIndexed';

/** An event as read, with the append nonce it carried (undefined for events written before it existed). */
interface Stored {
  readonly event: RecordedEvent;
  readonly appendId: string | undefined;
}

/**
 * The EventStoreDB/KurrentDB engine through `@eventstore/db-client`. Thin: it maps the port's
 * revisions, positions, ids, metadata and errors onto the client's, and adds only what the port
 * promises and the server does not do by itself (see `append` and `findEventInStream`).
 *
 * Positions: the port's position is the event's commit position in the transaction log. Since
 * EventStoreDB 20 an event's commit and prepare positions are equal (explicit transactions are
 * gone), so a port position P is read back as `{ commit: P, prepare: P }`.
 *
 * Limits that differ from the embedded engine, stated rather than hidden:
 * - Event ids are unique per stream here, not across the whole log: the server keeps no global id
 *   index, so an id reused in another stream is not detected (`capabilities.globalEventIdIndex`).
 * - `findEventInStream` finds the first event of `indexed` appends only (through their index stream).
 * - A repeat sent with expected revision 'any' is recognised only while the server's cache of recent
 *   ids holds it; the ledger appends with a definite expected revision.
 * - An append costs two round trips (the append, then one event read back), three when indexed.
 * - Reads must go to the leader (the client's default): an append is read back right after it.
 */
export class EsdbEventStore implements EventStore {
  readonly engine = 'esdb' as const;
  static readonly capabilities = { globalEventIdIndex: false } as const;
  readonly #client: EventStoreDBClient;

  constructor(client: EventStoreDBClient) {
    this.#client = client;
  }

  static fromConnectionString(connectionString: string): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(connectionString));
  }

  /**
   * What the server answers (KurrentDB `IndexWriter.CheckCommitStartingAt`, `StorageWriterService`):
   * - a repeat of stored ids at their original expected revision: success, writing nothing, with the
   *   original's revision and, on 22.10 and later, its position — exactly like a fresh write. So the
   *   answer cannot say which it was: the first event carries a nonce (`appendIdKey`) and is read
   *   back; someone else's nonce there means a repeat.
   * - a repeat whose original is written but not yet replicated (IdempotentNotReady): no answer at
   *   all; the server drops the write and the client's deadline expires (EventStoreUnavailableError,
   *   a 503 the caller retries, by which time the repeat is answered as above).
   * - a repeat at another expected revision, or a batch mixing stored and new ids: wrong expected
   *   version; the events at the expected place, then the id's index (for indexed appends), tell a
   *   repeat from a conflict.
   * Indexed appends first record where they start in the id's index stream (`findEventInStream`).
   */
  async append(stream: string, events: readonly EventToAppend[], options: AppendOptions): Promise<AppendResult> {
    const first = events[0];
    assert.ok(first !== undefined, 'append at least one event');
    for (const event of events) assert.ok(!(appendIdKey in event.metadata), `metadata key ${appendIdKey} is the adapter's`);
    const expected = options.expectedRevision;
    const writtenFrom = startOf(expected);
    assert.ok(
      options.indexed !== true || writtenFrom !== undefined,
      'an indexed append needs a definite expected revision (a number or no_stream)',
    );
    if (options.indexed === true && writtenFrom !== undefined) await this.#index(first.id, stream, writtenFrom);
    const appendId = randomUUID();
    let result: Awaited<ReturnType<EventStoreDBClient['appendToStream']>>;
    try {
      result = await this.#client.appendToStream(
        stream,
        events.map((event, index) =>
          jsonEvent({
            id: event.id,
            type: event.type,
            data: event.data,
            metadata: index === 0 ? { ...event.metadata, [appendIdKey]: appendId } : event.metadata,
          }),
        ),
        { expectedRevision: toEsdbExpected(expected) },
      );
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw translate(error);
      return this.#repeatOrConflict(stream, events, options, error.actualVersion);
    }
    // Only with `throwOnAppendFailure=false` in the connection string: a wrong expected revision.
    if (!result.success) return this.#repeatOrConflict(stream, events, options, result.nextExpectedRevision);
    const last = toSafeNumber(result.nextExpectedRevision);
    const start = last - events.length + 1;
    const [there] = await this.#readStored(stream, { direction: FORWARDS, fromRevision: BigInt(start), maxCount: 1 });
    if (there === undefined) throw new EventStoreUnavailableError(`EventStoreDB: append to ${stream} not readable back; retry`);
    if (there.appendId !== appendId) {
      // A success without writing: the server recognised the ids as a repeat of a stored append.
      const repeat = await this.#matchAt(stream, events, start);
      if (repeat !== undefined) return repeat;
      throw new EventIdConflictError(
        stream,
        first.id,
        `EventStoreDB answered a write, yet revision ${start} holds another event`,
      );
    }
    const position = result.position === undefined ? await this.#positionOf(stream, last) : toPort(result.position);
    return { nextExpectedRevision: last, position, idempotent: false };
  }

  /** The position of the event at `revision` (servers that answer appends without one). */
  async #positionOf(stream: string, revision: number): Promise<number> {
    const [event] = await this.#read(stream, { direction: FORWARDS, fromRevision: BigInt(revision), maxCount: 1 });
    if (event === undefined) throw new EventStoreUnavailableError(`EventStoreDB: ${stream}@${revision} not readable back; retry`);
    return event.position;
  }

  /** A wrong expected revision: a repeat of an append stored elsewhere than expected, a mixed batch, or a conflict. */
  async #repeatOrConflict(
    stream: string,
    events: readonly EventToAppend[],
    options: AppendOptions,
    actual: bigint | string | undefined,
  ): Promise<AppendResult> {
    const expected = options.expectedRevision;
    const writtenFrom = startOf(expected);
    const first = events[0];
    assert.ok(first !== undefined);
    if (writtenFrom !== undefined) {
      const repeat = await this.#matchAt(stream, events, writtenFrom);
      if (repeat !== undefined) return repeat;
    }
    if (options.indexed === true) {
      const original = await this.findEventInStream(stream, first.id);
      if (original !== undefined) {
        const repeat = await this.#matchAt(stream, events, original.revision);
        if (repeat !== undefined) return repeat;
      }
    }
    // With no revision to check, the server refuses only a batch of which it knows some ids, not all.
    if (expected === 'any') throw new EventIdConflictError(stream, first.id, 'batch mixes new and already-appended event ids');
    throw new StreamRevisionConflictError(
      stream,
      expected,
      actual === NO_STREAM || actual === -1n ? -1 : typeof actual === 'bigint' ? toSafeNumber(actual) : undefined,
    );
  }

  /**
   * The original result when the stream holds exactly `events`' ids from revision `from` on;
   * undefined when the first differs; a conflict when the first matches and a later one does not.
   */
  async #matchAt(stream: string, events: readonly EventToAppend[], from: number): Promise<AppendResult | undefined> {
    const stored = await this.#read(stream, { direction: FORWARDS, fromRevision: BigInt(from), maxCount: events.length });
    if (stored[0]?.id !== events[0]?.id) return undefined;
    const last = stored[events.length - 1];
    if (last === undefined || events.some((event, i) => stored[i]?.id !== event.id))
      throw new EventIdConflictError(stream, events[0]?.id ?? '', 'batch mixes new and already-appended event ids');
    return { nextExpectedRevision: last.revision, position: last.position, idempotent: true };
  }

  /** Records, before an indexed append is sent, the revision it will start at if it succeeds. */
  async #index(eventId: string, stream: string, revision: number): Promise<void> {
    try {
      await this.#client.appendToStream(
        esdbStreamNames.index(eventId),
        jsonEvent({ type: eventIndexedType, data: { stream, revision } }),
        { expectedRevision: ANY },
      );
    } catch (error) {
      throw translate(error);
    }
  }

  async #readStored(
    stream: string,
    options: {
      direction: typeof FORWARDS | typeof BACKWARDS;
      fromRevision: bigint | typeof START | typeof END;
      maxCount: number;
    },
  ): Promise<Stored[]> {
    const events: Stored[] = [];
    try {
      for await (const resolved of this.#client.readStream(stream, options)) {
        const mapped = toStored(resolved);
        if (mapped !== undefined) events.push(mapped);
      }
    } catch (error) {
      // Neither a stream that never existed (or was soft-deleted) nor a tombstoned one has events to read.
      if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return [];
      throw translate(error);
    }
    return events;
  }

  async #read(
    stream: string,
    options: {
      direction: typeof FORWARDS | typeof BACKWARDS;
      fromRevision: bigint | typeof START | typeof END;
      maxCount: number;
    },
  ): Promise<RecordedEvent[]> {
    return (await this.#readStored(stream, options)).map((stored) => stored.event);
  }

  readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    return this.#read(stream, {
      direction: backwards ? BACKWARDS : FORWARDS,
      fromRevision: options.fromRevision === undefined ? (backwards ? END : START) : BigInt(options.fromRevision),
      maxCount: bounded(options.maxCount),
    });
  }

  /**
   * One point read per reference (`readStream` from its revision, one event), up to
   * `readEventsInFlightMax` at a time. A stream that does not exist, was deleted (soft: StreamNotFound)
   * or tombstoned (StreamDeleted) has no event; a forward read starting at a revision the stream hides
   * (`$tb`, `$maxCount`) returns a later one, which is not the event asked for: also none.
   */
  async readEvents(refs: readonly StreamRevision[]): Promise<(RecordedEvent | undefined)[]> {
    assert.ok(refs.length <= readEventsMax, 'read at most readEventsMax events at once');
    for (const r of refs) assert.ok(Number.isSafeInteger(r.revision) && r.revision >= 0, 'a revision is a non-negative integer');
    const found: (RecordedEvent | undefined)[] = new Array<RecordedEvent | undefined>(refs.length).fill(undefined);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < refs.length; i = next++) {
        const ref = refs[i] as StreamRevision;
        const [event] = await this.#read(ref.stream, { direction: FORWARDS, fromRevision: BigInt(ref.revision), maxCount: 1 });
        found[i] = event?.revision === ref.revision ? event : undefined;
      }
    };
    await Promise.all(Array.from({ length: Math.min(esdbEventStoreLimits.readEventsInFlightMax, refs.length) }, worker));
    return found;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after ?? -1;
    const maxCount = bounded(options.maxCount);
    const events: RecordedEvent[] = [];
    try {
      // Client 6.2 has no server-side filter on readAll: system and foreign events come back too and
      // are dropped here, so a page can hold fewer than maxCount of ours — even none while the log
      // goes on. Read raw pages until there are maxCount, or a short page says the log has ended.
      // Raw pages are never tiny, so a caller asking for one event does not crawl through system events.
      const rawPage = Math.max(maxCount + 1, esdbEventStoreLimits.rawPageEventsMin);
      for (let from = after; ;) {
        // Forward reads of $all include fromPosition: ask for one more and drop the event at `from` itself.
        let returned = 0;
        let last = from;
        const read = this.#client.readAll({
          direction: FORWARDS,
          fromPosition: from < 0 ? START : fromPort(from),
          maxCount: rawPage,
        });
        try {
          for await (const resolved of read) {
            returned++;
            const raw = resolved.event?.position;
            if (raw !== undefined) last = Math.max(last, toPort(raw));
            const mapped = toRecorded(resolved);
            // `from` itself (inclusive start) was seen on the page before, or is `after`.
            if (mapped === undefined || isHidden(mapped) || mapped.position <= from) continue;
            events.push(mapped);
            if (events.length === maxCount) return events;
          }
        } finally {
          await cancelUnfinished(read);
        }
        if (returned < rawPage || last === from) return events;
        from = last;
      }
    } catch (error) {
      throw translate(error);
    }
  }

  async *subscribeToAll(options: SubscribeToAllOptions = {}): AsyncGenerator<RecordedEvent, void, undefined> {
    // An abort listener added after the abort never fires: a stopped caller gets nothing at all.
    if (isAborted(options.signal)) return;
    const after = options.after ?? -1;
    const subscription = this.#client.subscribeToAll({
      fromPosition: after < 0 ? START : fromPort(after),
      filter: excludeSystemEvents(),
    });
    const abort = (): void => void subscription.unsubscribe().catch(() => undefined);
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      // for-await over the subscription's readable stream pulls one event at a time: back-pressure.
      for await (const resolved of subscription as AsyncIterable<AllStreamResolvedEvent>) {
        if (options.signal?.aborted === true) return;
        const mapped = toRecorded(resolved);
        // The subscription starts strictly after `fromPosition`; the check keeps the port's promise either way.
        if (mapped === undefined || isHidden(mapped) || mapped.position <= after) continue;
        yield mapped;
      }
    } catch (error) {
      if (options.signal?.aborted === true) return;
      throw translate(error);
    } finally {
      options.signal?.removeEventListener('abort', abort);
      await subscription.unsubscribe().catch(() => undefined);
    }
  }

  async headPosition(): Promise<number> {
    const pageMax = esdbEventStoreLimits.headPageEventsMax;
    try {
      // Backwards from the end, past any run of system and hidden events. Backward reads of $all
      // exclude fromPosition (they return what lies before it), so the next page starts at the
      // oldest event of this one without repeating it.
      for (let from: Position | typeof END = END; ;) {
        let returned = 0;
        let oldest: Position | undefined;
        const read = this.#client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: pageMax });
        try {
          for await (const resolved of read) {
            returned++;
            oldest = resolved.event?.position ?? oldest;
            const mapped = toRecorded(resolved);
            if (mapped !== undefined && !isHidden(mapped)) return mapped.position;
          }
        } finally {
          await cancelUnfinished(read);
        }
        if (returned < pageMax || oldest === undefined) return -1;
        from = oldest;
      }
    } catch (error) {
      throw translate(error);
    }
  }

  /**
   * A point lookup, whatever the stream's length: the id's index stream (a record per indexed append
   * sent with this id, normally one) names the revisions to look at, and each is read as one event.
   * A record whose append never landed (a crash between the two writes, a conflict) points at a
   * revision holding another event or none, and finds nothing; two processes racing with the same
   * ids leave two records at one revision, which the stored event matches.
   */
  async findEventInStream(stream: string, eventId: string): Promise<RecordedEvent | undefined> {
    const revisions = new Set<number>();
    const indexStream = esdbStreamNames.index(eventId);
    for (let from: bigint | typeof START = START; ;) {
      const page = await this.#read(indexStream, {
        direction: FORWARDS,
        fromRevision: from,
        maxCount: esdbEventStoreLimits.readBatchEventsMax,
      });
      for (const record of page) {
        const { stream: indexed, revision } = record.data;
        if (record.type === eventIndexedType && indexed === stream && typeof revision === 'number') revisions.add(revision);
      }
      const lastRecord = page[page.length - 1];
      if (page.length < esdbEventStoreLimits.readBatchEventsMax || lastRecord === undefined) break;
      from = BigInt(lastRecord.revision + 1);
    }
    for (const revision of revisions) {
      const [event] = await this.#read(stream, { direction: FORWARDS, fromRevision: BigInt(revision), maxCount: 1 });
      if (event !== undefined && event.id === eventId) return event;
    }
    return undefined;
  }

  async readRecord(key: string): Promise<JsonObject | undefined> {
    checkRecord(key);
    const [last] = await this.#read(esdbStreamNames.record(key), { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
    return last?.data;
  }

  /**
   * Appends the value to the key's stream (expectation any: the last write wins). The stream keeps
   * one event (`$maxCount: 1`, so the scavenger drops older writes); the metadata is set when the
   * stream is created, and again on its second write in case a crash came between the two.
   */
  async writeRecord(key: string, value: JsonObject): Promise<void> {
    checkRecord(key, value);
    const name = esdbStreamNames.record(key);
    try {
      const result = await this.#client.appendToStream(name, jsonEvent({ type: recordWrittenType, data: value }), {
        expectedRevision: ANY,
      });
      if (result.nextExpectedRevision < 2n)
        await this.#client.setStreamMetadata(name, { maxCount: 1 }, { expectedRevision: ANY });
    } catch (error) {
      throw translate(error);
    }
  }

  async close(): Promise<void> {
    await this.#client.dispose();
  }
}

/** The revision an append with this expectation starts at; undefined for 'any'. */
const startOf = (expected: ExpectedRevision): number | undefined =>
  typeof expected === 'number' ? expected + 1 : expected === 'no_stream' ? 0 : undefined;

/**
 * Leaving a read early ends the stream the client hands out, but not the gRPC call feeding it: that
 * one stays open on both ends until it is cancelled (or the client is disposed).
 */
const cancelUnfinished = async (read: { readonly readableEnded?: boolean; cancel?: () => Promise<void> }): Promise<void> => {
  if (read.readableEnded === true) return;
  await read.cancel?.().catch(() => undefined);
};

const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

const toEsdbExpected = (expected: ExpectedRevision): AppendExpectedRevision =>
  expected === 'any' ? ANY : expected === 'no_stream' ? NO_STREAM : BigInt(expected);

const toSafeNumber = (value: bigint): number => {
  const number = Number(value);
  assert.ok(Number.isSafeInteger(number), `${value} is beyond the safe integer range`);
  return number;
};

const toPort = (position: Position): number => toSafeNumber(position.commit);
const fromPort = (position: number): Position => ({ commit: BigInt(position), prepare: BigInt(position) });

const bounded = (maxCount: number | undefined): number => {
  const count = maxCount ?? esdbEventStoreLimits.readBatchEventsMax;
  assert.ok(Number.isSafeInteger(count) && count > 0, 'maxCount must be a positive integer');
  return Math.min(count, esdbEventStoreLimits.readBatchEventsMax);
};

/** System events and the adapter's own streams: never handed out as part of the log. */
const isHidden = (event: RecordedEvent): boolean =>
  event.type.startsWith('$') || event.stream.startsWith('$') || event.stream.startsWith(esdbStreamNames.hiddenPrefix);

const asObject = (value: unknown): JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};

const toRecorded = (resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined => toStored(resolved)?.event;

const toStored = (resolved: ResolvedEvent | AllStreamResolvedEvent): Stored | undefined => {
  const event = resolved.event;
  if (event === undefined) return undefined;
  // Events this ledger writes are JSON; anything binary is not ours and is skipped.
  if (!event.isJson) return undefined;
  const position = event.position;
  // The client fills in a position the server did not send as 2^64 − 1 (servers before 22.6 on
  // stream reads): the ledger needs every event's position, so that is a clear error, not a number.
  assert.ok(
    position !== undefined && position.commit < 2n ** 63n,
    `EventStoreDB did not report the position of ${event.streamId}@${event.revision} (version 22.6 or later is needed)`,
  );
  const { [appendIdKey]: appendId, ...metadata } = asObject(event.metadata);
  return {
    event: {
      id: event.id,
      type: event.type,
      data: asObject(event.data),
      metadata,
      stream: event.streamId,
      revision: toSafeNumber(event.revision),
      position: toPort(position),
      recordedAt: event.created.toISOString(),
    },
    appendId: typeof appendId === 'string' ? appendId : undefined,
  };
};

/** gRPC status codes of an unreachable or overloaded server (UNAVAILABLE, DEADLINE_EXCEEDED). */
const unavailableGrpcCodes = new Set([14, 4]);

/**
 * Connection failures become the port's EventStoreUnavailableError, so callers retry (HTTP 503)
 * instead of failing hard. Some client calls wrap them (UnavailableError, DeadlineExceededError,
 * TimeoutError); a leader change (NotLeaderError) and a call cancelled by a reconnection
 * (CancelledError) are the client reconnecting on its own; a `discover://` connection that finds no
 * node throws a plain Error; the append path can surface the raw gRPC error.
 */
const translate = (error: unknown): unknown =>
  error instanceof UnavailableError ||
  error instanceof DeadlineExceededError ||
  error instanceof TimeoutError ||
  error instanceof NotLeaderError ||
  error instanceof CancelledError ||
  (error instanceof Error && error.message.startsWith('Failed to discover')) ||
  (error instanceof Error && unavailableGrpcCodes.has((error as { code?: unknown }).code as number))
    ? new EventStoreUnavailableError(`EventStoreDB unavailable: ${error.message}`, { cause: error })
    : error;
