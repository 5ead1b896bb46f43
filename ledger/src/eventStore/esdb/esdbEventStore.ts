import assert from 'node:assert/strict';
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
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  JsonObject,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeToAllOptions,
} from '../eventStore.js';

/** Limits of the EventStoreDB adapter, in one place. */
export const esdbEventStoreLimits = {
  /** Largest batch one read returns. */
  readBatchEventsMax: 1000,
  /**
   * How far back (events) a stream is searched for ids when telling an idempotent repeat from a
   * conflict. Retries come soon after the original, so the window covers any realistic retry.
   */
  idempotencyScanEventsMax: 10_000,
  /** Smallest raw page `readAll` asks the server for (system events are dropped from it here). */
  rawPageEventsMin: 500,
} as const;

/**
 * The EventStoreDB/KurrentDB engine through `@eventstore/db-client`. Thin: it maps the port's
 * revisions, positions, ids, metadata and errors onto the client's, and adds only what the port
 * promises and the server does not do by itself (see `append`).
 *
 * Positions: the port's position is the event's commit position in the transaction log. Since
 * EventStoreDB 20 an event's commit and prepare positions are equal (explicit transactions are
 * gone), so a port position P is read back as `{ commit: P, prepare: P }`.
 *
 * Limits that differ from the embedded engine, stated rather than hidden:
 * - Event ids are unique per stream here, not across the whole log: the server keeps no global id
 *   index, so an id reused in another stream is not detected (`capabilities.globalEventIdIndex`).
 * - Idempotent repeats are recognised within the last `idempotencyScanEventsMax` events of a stream.
 * - An append with an expected revision costs two round trips (see `append`).
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
   * The server treats a repeat of the same ids at the same expected revision as a success without
   * writing, and answers it exactly as it answered the original write (same revision; the position
   * may be missing), so the adapter cannot tell the two apart from the answer: it reads the one event
   * at the revision the batch would start at first (two round trips), and reports a repeat found
   * there, or behind a wrong expected revision, as `idempotent` with the original position.
   */
  async append(
    stream: string,
    events: readonly EventToAppend[],
    options: { expectedRevision: ExpectedRevision },
  ): Promise<AppendResult> {
    assert.ok(events.length > 0, 'append at least one event');
    const expected = options.expectedRevision;
    const writtenFrom = typeof expected === 'number' ? expected + 1 : expected === 'no_stream' ? 0 : undefined;
    if (writtenFrom === undefined) {
      // ANY skips the server's revision check, and with it most of its idempotency: look first.
      const repeat = await this.#findRepeat(stream, events);
      if (repeat !== undefined) return repeat;
    } else {
      const [there] = await this.#read(stream, { direction: FORWARDS, fromRevision: BigInt(writtenFrom), maxCount: 1 });
      if (there !== undefined && there.id === events[0]?.id) {
        const repeat = await this.#findRepeat(stream, events);
        if (repeat !== undefined) return repeat;
      }
    }
    let result: Awaited<ReturnType<EventStoreDBClient['appendToStream']>>;
    try {
      result = await this.#client.appendToStream(
        stream,
        events.map((event) => jsonEvent({ id: event.id, type: event.type, data: event.data, metadata: event.metadata })),
        { expectedRevision: toEsdbExpected(expected) },
      );
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw translate(error);
      return this.#repeatOrConflict(stream, events, expected, error.actualVersion);
    }
    // Only with `throwOnAppendFailure=false` in the connection string: a wrong expected revision.
    if (!result.success) return this.#repeatOrConflict(stream, events, expected, undefined);
    if (result.position === undefined) {
      // The server answers a repeat it could not find in its index yet without a position: the same
      // ids raced this append in (another process sent the same command).
      const repeat = await this.#findRepeat(stream, events);
      if (repeat !== undefined) return repeat;
      throw new EventStoreUnavailableError('EventStoreDB answered an append without its position; retry');
    }
    return {
      nextExpectedRevision: toSafeNumber(result.nextExpectedRevision),
      position: toPort(result.position),
      idempotent: false,
    };
  }

  /** A wrong expected revision: a repeat of a write that went through meanwhile, or a conflict. */
  async #repeatOrConflict(
    stream: string,
    events: readonly EventToAppend[],
    expected: ExpectedRevision,
    actual: bigint | string | undefined,
  ): Promise<AppendResult> {
    const repeat = await this.#findRepeat(stream, events);
    if (repeat !== undefined) return repeat;
    throw new StreamRevisionConflictError(
      stream,
      expected,
      actual === NO_STREAM ? -1 : typeof actual === 'bigint' ? toSafeNumber(actual) : undefined,
    );
  }

  /** The original result when every id of `events` is already in the stream; a conflict when only some are. */
  async #findRepeat(stream: string, events: readonly EventToAppend[]): Promise<AppendResult | undefined> {
    const wanted = new Set(events.map((e) => e.id));
    const found = new Map<string, RecordedEvent>();
    await this.#scanBackwards(stream, (recorded) => {
      if (wanted.has(recorded.id)) found.set(recorded.id, recorded);
      return found.size === wanted.size;
    });
    if (found.size === 0) return undefined;
    if (found.size !== wanted.size)
      throw new EventIdConflictError(stream, events[0]?.id ?? '', 'batch mixes new and already-appended event ids');
    const last = [...found.values()].reduce((a, b) => (b.revision > a.revision ? b : a));
    return { nextExpectedRevision: last.revision, position: last.position, idempotent: true };
  }

  /** Reads a stream from its end, newest first, until `visit` says stop or the scan window ends. */
  async #scanBackwards(stream: string, visit: (event: RecordedEvent) => boolean): Promise<void> {
    let scanned = 0;
    let from: bigint | typeof END = END;
    while (scanned < esdbEventStoreLimits.idempotencyScanEventsMax) {
      const page = await this.#read(stream, {
        direction: BACKWARDS,
        fromRevision: from,
        maxCount: esdbEventStoreLimits.readBatchEventsMax,
      });
      for (const event of page) {
        scanned++;
        if (visit(event)) return;
      }
      const oldest = page[page.length - 1];
      if (page.length < esdbEventStoreLimits.readBatchEventsMax || oldest === undefined || oldest.revision === 0) return;
      from = BigInt(oldest.revision - 1);
    }
  }

  async #read(
    stream: string,
    options: {
      direction: typeof FORWARDS | typeof BACKWARDS;
      fromRevision: bigint | typeof START | typeof END;
      maxCount: number;
    },
  ): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.#client.readStream(stream, options)) {
        const mapped = toRecorded(resolved);
        if (mapped !== undefined) events.push(mapped);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw translate(error);
    }
    return events;
  }

  readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    return this.#read(stream, {
      direction: backwards ? BACKWARDS : FORWARDS,
      fromRevision: options.fromRevision === undefined ? (backwards ? END : START) : BigInt(options.fromRevision),
      maxCount: bounded(options.maxCount),
    });
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
        // fromPosition is inclusive for reads: ask for one more and drop the event at `from` itself.
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
            if (mapped === undefined || isSystem(mapped) || mapped.position <= from) continue;
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
        // The subscription starts after `fromPosition`; the check keeps the port's promise either way.
        if (mapped === undefined || isSystem(mapped) || mapped.position <= after) continue;
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
    try {
      // Backwards from the end, past any run of system events (fromPosition is inclusive).
      for (let from: Position | typeof END = END; ;) {
        let returned = 0;
        let oldest: Position | undefined;
        const read = this.#client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: 64 });
        try {
          for await (const resolved of read) {
            returned++;
            oldest = resolved.event?.position ?? oldest;
            const mapped = toRecorded(resolved);
            if (mapped !== undefined && !isSystem(mapped)) return mapped.position;
          }
        } finally {
          await cancelUnfinished(read);
        }
        if (returned < 64 || oldest === undefined || (from !== END && oldest.commit === from.commit)) return -1;
        from = oldest;
      }
    } catch (error) {
      throw translate(error);
    }
  }

  async findEventInStream(stream: string, eventId: string): Promise<RecordedEvent | undefined> {
    let found: RecordedEvent | undefined;
    await this.#scanBackwards(stream, (event) => {
      if (event.id === eventId) found = event;
      return found !== undefined;
    });
    return found;
  }

  async close(): Promise<void> {
    await this.#client.dispose();
  }
}

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

const isSystem = (event: RecordedEvent): boolean => event.type.startsWith('$') || event.stream.startsWith('$');

const asObject = (value: unknown): JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};

const toRecorded = (resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined => {
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
  return {
    id: event.id,
    type: event.type,
    data: asObject(event.data),
    metadata: asObject(event.metadata),
    stream: event.streamId,
    revision: toSafeNumber(event.revision),
    position: toPort(position),
    recordedAt: event.created.toISOString(),
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
