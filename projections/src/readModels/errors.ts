/**
 * Operating errors of the read models. Each engine's own connection errors are translated into
 * `ReadModelStoreUnavailableError` at the adapter boundary, so nothing above the port depends on an engine.
 */

/** The engine could not be reached or refused service; retrying later may succeed. */
export class ReadModelStoreUnavailableError extends Error {
  readonly type = 'read_model_store_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadModelStoreUnavailableError';
  }
}

/**
 * Raised by a live projection whose version was replaced by a rebuild: it re-targets and resubscribes.
 * (Here, not in versionedProjection.ts, so that the runtime that catches it does not import the
 * projections it runs.)
 */
export class ReadModelVersionSwitchedError extends Error {
  readonly type = 'read_model_version_switched' as const;
  constructor(family: string, from: number, to: number) {
    super(`${family}: readers switched from v${from} to v${to}; following the new version`);
    this.name = 'ReadModelVersionSwitchedError';
  }
}
