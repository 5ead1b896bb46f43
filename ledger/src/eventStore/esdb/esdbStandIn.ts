import { randomUUID } from 'node:crypto';
import type { END, START } from '@eventstore/db-client';
import {
  ANY,
  BACKWARDS,
  DeadlineExceededError,
  NO_STREAM,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  type AppendExpectedRevision,
  type EventStoreDBClient,
  type Position,
} from '@eventstore/db-client';

/**
 * A stand-in for `EventStoreDBClient` (client 6.2) that answers as a KurrentDB server does, for the
 * unit tests of the adapter (no server can run here; the contract suite covers the real thing where
 * EVENTSTORE_URL is set). What it reproduces, read from the server's sources
 * (`IndexWriter.CheckCommitStartingAt`, `StorageWriterService.VerifyCommitChecks`, `AllReader`):
 * - append with an expected revision below the stream's: the ids are compared with the events stored
 *   from that revision on; all equal → success without writing, with the original's last revision
 *   and position (servers 22.10+); the first different → wrong expected version; a later different →
 *   wrong expected version (corrupted idempotency).
 * - append with ANY: ids found in the server's cache of recently written ids (all of them, in that
 *   stream) → the same idempotent success; some but not all → wrong expected version; none → a write.
 *   The cache is bounded (`recentIdsMax`); ids evicted from it are written again.
 * - a repeat whose original is not yet replicated (`notReplicated`): the server drops the write and
 *   never answers, so the client's deadline expires (DeadlineExceededError).
 * - `$maxCount` stream metadata hides all but the last events of a stream from reads.
 * - `$all`: forward reads include `fromPosition`, backward reads exclude it (they return what lies
 *   before it). Metadata writes land in `$$<stream>` like any other event.
 * - reading a stream that does not exist fails with StreamNotFoundError.
 * - what deletes and truncates (`EventStore.Core` `StorageWriterService`, `IndexReader`): the events
 *   stay in `$all` (until a scavenge, which the stand-in never runs); only stream reads change.
 *   `setStreamMetadata` with `truncateBefore` (`$tb`) hides revisions below it from stream reads.
 *   `deleteStream` (soft) writes `$tb` = the deleted-stream marker to `$$<stream>`: reads fail with
 *   StreamNotFoundError; a later append (expected revision ANY or NO_STREAM) recreates the stream with
 *   its revisions continuing, and `$tb` set to the first new one. `tombstoneStream` (hard) appends a
 *   `$streamDeleted` event to the stream itself: reads and appends fail with StreamDeletedError.
 */
export interface StandInEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly stream: string;
  readonly revision: number;
  readonly position: number;
}

export interface EsdbStandIn {
  readonly client: EventStoreDBClient;
  readonly streams: Map<string, StandInEvent[]>;
  readonly log: StandInEvent[];
  readonly metadata: Map<string, StandInStreamMetadata>;
  /** Appends sent, per stream. */
  readonly appends: Map<string, number>;
  /** Streams whose repeats meet an original that is not replicated yet. */
  readonly notReplicated: Set<string>;
  /** The next append to this stream fails as if the connection dropped before it reached the server. */
  readonly failNextAppend: Set<string>;
  /** Runs before each append is applied (to interleave another writer). */
  beforeAppend: ((stream: string) => Promise<void> | void) | undefined;
  /** Appends a raw event, as another writer would. */
  put(stream: string, event: { id: string; type?: string; data?: unknown; metadata?: unknown }): StandInEvent;
}

export interface StandInStreamMetadata {
  readonly maxCount?: number;
  readonly truncateBefore?: number;
}

/** What the server writes as `$tb` on a soft delete (EventNumber.DeletedStream, long.MaxValue). */
const deletedStream = Number.MAX_SAFE_INTEGER;

interface SentEvent {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
}

const positionStep = 128;

export const esdbStandIn = (options: { recentIdsMax?: number } = {}): EsdbStandIn => {
  const recentIdsMax = options.recentIdsMax ?? 1000;
  const streams = new Map<string, StandInEvent[]>();
  const log: StandInEvent[] = [];
  const metadata = new Map<string, StandInStreamMetadata>();
  const tombstoned = new Set<string>();
  const recent = new Map<string, StandInEvent>();
  const appends = new Map<string, number>();
  const notReplicated = new Set<string>();
  const failNextAppend = new Set<string>();

  const write = (stream: string, events: readonly SentEvent[]): StandInEvent[] => {
    const stored = streams.get(stream) ?? [];
    streams.set(stream, stored);
    return events.map((sent) => {
      const event: StandInEvent = {
        id: sent.id,
        type: sent.type,
        data: sent.data,
        metadata: sent.metadata,
        stream,
        revision: stored.length,
        position: (log.length + 1) * positionStep,
      };
      stored.push(event);
      log.push(event);
      recent.set(event.id, event);
      if (recent.size > recentIdsMax) recent.delete(recent.keys().next().value as string);
      return event;
    });
  };

  const success = (last: StandInEvent | undefined, current: number) => ({
    success: true,
    nextExpectedRevision: BigInt(last?.revision ?? current),
    position: last === undefined ? undefined : { commit: BigInt(last.position), prepare: BigInt(last.position) },
  });

  const wrongExpected = (stream: string, current: number, expected: AppendExpectedRevision): WrongExpectedVersionError =>
    new WrongExpectedVersionError(undefined, {
      streamName: stream,
      current: current === -1 ? NO_STREAM : BigInt(current),
      expected,
    });

  const idempotent = (stream: string, last: StandInEvent | undefined, current: number) => {
    // IdempotentNotReady: the write is dropped, nothing is answered, the client gives up at its deadline.
    if (notReplicated.has(stream)) throw new DeadlineExceededError();
    return success(last, current);
  };

  const setMetadata = (stream: string, value: StandInStreamMetadata): void => {
    metadata.set(stream, { ...value });
    const data = {
      ...(value.maxCount === undefined ? {} : { $maxCount: value.maxCount }),
      ...(value.truncateBefore === undefined ? {} : { $tb: value.truncateBefore }),
    };
    write(`$$${stream}`, [{ id: randomUUID(), type: '$metadata', data, metadata: {} }]);
  };

  const softDeleted = (stream: string): boolean => metadata.get(stream)?.truncateBefore === deletedStream;

  const append = (stream: string, events: readonly SentEvent[], expected: AppendExpectedRevision) => {
    if (tombstoned.has(stream)) throw new StreamDeletedError(undefined, stream);
    const stored = streams.get(stream) ?? [];
    if (softDeleted(stream)) {
      // Recreating a soft-deleted stream: its revisions go on, and what came before stays hidden.
      if (expected !== ANY && expected !== NO_STREAM) throw wrongExpected(stream, -1, expected);
      const written = write(stream, events);
      setMetadata(stream, { ...metadata.get(stream), truncateBefore: written[0]?.revision ?? stored.length });
      return success(written.at(-1), stored.length - 1);
    }
    const current = stored.length - 1;
    if (expected === ANY) {
      const known = events.map((e) => recent.get(e.id)).map((e) => (e?.stream === stream ? e : undefined));
      if (known[0] === undefined) {
        if (known.some((e) => e !== undefined)) throw wrongExpected(stream, current, expected);
        return success(write(stream, events).at(-1), current);
      }
      if (known.some((e) => e === undefined)) throw wrongExpected(stream, current, expected);
      return idempotent(stream, known.at(-1), current);
    }
    const expectedRevision = expected === NO_STREAM ? -1 : Number(expected);
    if (expectedRevision > current) throw wrongExpected(stream, current, expected);
    if (expectedRevision === current) return success(write(stream, events).at(-1), current);
    const there = events.map((e, i) =>
      stored[expectedRevision + 1 + i]?.id === e.id ? stored[expectedRevision + 1 + i] : undefined,
    );
    if (there.some((e) => e === undefined)) throw wrongExpected(stream, current, expected);
    return idempotent(stream, there.at(-1), current);
  };

  /** The stream as reads see it; undefined when it does not exist (or was soft-deleted). */
  const visible = (stream: string): StandInEvent[] | undefined => {
    if (tombstoned.has(stream)) throw new StreamDeletedError(undefined, stream);
    const stored = streams.get(stream);
    if (stored === undefined || softDeleted(stream)) return undefined;
    const { maxCount, truncateBefore } = metadata.get(stream) ?? {};
    const kept = truncateBefore === undefined ? stored : stored.filter((e) => e.revision >= truncateBefore);
    return maxCount === undefined ? kept : kept.slice(Math.max(0, kept.length - maxCount));
  };

  const resolved = (event: StandInEvent) => ({
    event: {
      id: event.id,
      type: event.type,
      streamId: event.stream,
      revision: BigInt(event.revision),
      isJson: true,
      data: event.data,
      metadata: event.metadata,
      created: new Date(0),
      position: { commit: BigInt(event.position), prepare: BigInt(event.position) },
    },
  });

  const client = {
    appendToStream: async (
      stream: string,
      sent: SentEvent | SentEvent[],
      options: { expectedRevision?: AppendExpectedRevision } = {},
    ) => {
      appends.set(stream, (appends.get(stream) ?? 0) + 1);
      if (failNextAppend.delete(stream)) throw new UnavailableError();
      await standIn.beforeAppend?.(stream);
      return append(stream, Array.isArray(sent) ? sent : [sent], options.expectedRevision ?? ANY);
    },
    setStreamMetadata: (stream: string, value: StandInStreamMetadata) => {
      setMetadata(stream, value);
      return Promise.resolve({ success: true, nextExpectedRevision: 0n, position: undefined });
    },
    deleteStream: (stream: string) => {
      if (tombstoned.has(stream)) return Promise.reject(new StreamDeletedError(undefined, stream));
      setMetadata(stream, { ...metadata.get(stream), truncateBefore: deletedStream });
      const last = log.at(-1);
      return Promise.resolve({
        position: last === undefined ? undefined : { commit: BigInt(last.position), prepare: BigInt(last.position) },
      });
    },
    tombstoneStream: (stream: string) => {
      if (tombstoned.has(stream)) return Promise.reject(new StreamDeletedError(undefined, stream));
      const [event] = write(stream, [{ id: randomUUID(), type: '$streamDeleted', data: {}, metadata: {} }]);
      tombstoned.add(stream);
      return Promise.resolve({
        position: event === undefined ? undefined : { commit: BigInt(event.position), prepare: BigInt(event.position) },
      });
    },
    readStream: (
      stream: string,
      options: { direction?: unknown; fromRevision?: bigint | typeof START | typeof END; maxCount?: number } = {},
    ) => {
      let deleted: StreamDeletedError | undefined;
      let events: StandInEvent[] | undefined;
      try {
        events = visible(stream);
      } catch (error) {
        deleted = error as StreamDeletedError;
      }
      const from = options.fromRevision;
      const selected =
        events === undefined
          ? undefined
          : options.direction === BACKWARDS
            ? [...events].reverse().filter((e) => typeof from !== 'bigint' || e.revision <= Number(from))
            : events.filter((e) => typeof from !== 'bigint' || e.revision >= Number(from));
      return (async function* () {
        if (deleted !== undefined) throw deleted;
        if (selected === undefined) throw new StreamNotFoundError(undefined, stream);
        await Promise.resolve();
        for (const event of selected.slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER)) yield resolved(event);
      })();
    },
    readAll: (options: { direction?: unknown; fromPosition?: Position | typeof START | typeof END; maxCount?: number } = {}) => {
      const from = options.fromPosition;
      const at = typeof from === 'object' ? Number(from.commit) : undefined;
      const selected =
        options.direction === BACKWARDS
          ? [...log].reverse().filter((e) => at === undefined || e.position < at)
          : log.filter((e) => at === undefined || e.position >= at);
      const iterable = (async function* () {
        await Promise.resolve();
        for (const event of selected.slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER)) yield resolved(event);
      })();
      return Object.assign(iterable, { readableEnded: false, cancel: () => Promise.resolve() });
    },
    dispose: () => Promise.resolve(),
  };

  const standIn: EsdbStandIn = {
    client: client as unknown as EventStoreDBClient,
    streams,
    log,
    metadata,
    appends,
    notReplicated,
    failNextAppend,
    beforeAppend: undefined,
    put: (stream, event) => {
      const [stored] = write(stream, [
        { id: event.id, type: event.type ?? 'CreditsPurchased', data: event.data ?? {}, metadata: event.metadata ?? {} },
      ]);
      if (stored === undefined) throw new Error('unreachable');
      return stored;
    },
  };
  return standIn;
};
