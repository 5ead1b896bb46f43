/**
 * Operating errors a read-model store adapter may raise. Each engine's own connection errors are
 * translated into these at the adapter boundary, so nothing above the port depends on an engine.
 */

/** The engine could not be reached or refused service; retrying later may succeed. */
export class ReadModelStoreUnavailableError extends Error {
  readonly type = 'read_model_store_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadModelStoreUnavailableError';
  }
}
