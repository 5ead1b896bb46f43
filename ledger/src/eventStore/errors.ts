import type { ExpectedRevision } from './eventStore.js';

/**
 * The closed set of operating errors an event store adapter may raise. Each engine's own errors
 * (SQLite constraint failures, ESDB's WrongExpectedVersionError, …) are translated into these at the
 * adapter boundary, so nothing above the port depends on an engine.
 */
export type EventStoreError = StreamRevisionConflictError | EventIdConflictError | EventStoreUnavailableError;

/** The stream was not at the expected revision. The command handler reloads and retries. */
export class StreamRevisionConflictError extends Error {
  readonly type = 'stream_revision_conflict' as const;
  constructor(
    readonly stream: string,
    readonly expectedRevision: ExpectedRevision,
    /** The stream's actual last revision, -1 when it does not exist, undefined when the engine did not say. */
    readonly actualRevision: number | undefined,
  ) {
    super(
      `stream ${stream}: expected revision ${String(expectedRevision)}, actual ${actualRevision === undefined ? 'unknown' : String(actualRevision)}`,
    );
    this.name = 'StreamRevisionConflictError';
  }
}

/** An event id already names a different event (in another stream, or in a partly repeated batch). */
export class EventIdConflictError extends Error {
  readonly type = 'event_id_conflict' as const;
  constructor(
    readonly stream: string,
    readonly eventId: string,
    reason: string,
  ) {
    super(`stream ${stream}: event id ${eventId} ${reason}`);
    this.name = 'EventIdConflictError';
  }
}

/** The engine could not be reached or refused service; retrying later may succeed. */
export class EventStoreUnavailableError extends Error {
  readonly type = 'event_store_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventStoreUnavailableError';
  }
}

export const isEventStoreError = (error: unknown): error is EventStoreError =>
  error instanceof StreamRevisionConflictError ||
  error instanceof EventIdConflictError ||
  error instanceof EventStoreUnavailableError;
