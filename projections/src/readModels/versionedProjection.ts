import type { RecordedEvent } from '../../../ledger/src/eventStore/eventStore.js';
import type { Subscriber } from '../runtime/projector.js';
import type { SqliteReadModels } from './sqliteReadModels.js';
import { activate, activeVersion, ReadModelVersionSwitchedError } from './versions.js';

/**
 * A read model on the embedded store, versioned for blue/green rebuilds. The live instance follows
 * whatever version readers use (and re-targets when a rebuild switches them); a builder instance
 * (`version` given) fills one specific version from the start of the log. Writes and the checkpoint
 * (`{family}@v{n}`) share one transaction, and events at or below the checkpoint are skipped, so a
 * batch delivered twice changes nothing.
 */
export abstract class VersionedProjection implements Subscriber {
  abstract readonly name: string;
  /** Tables of this read model; readers query views with these names. */
  abstract readonly tables: readonly string[];
  protected readonly models: SqliteReadModels;
  readonly #requestedVersion: number | undefined;
  #version = 0;

  protected constructor(models: SqliteReadModels, options: { version?: number } = {}) {
    this.models = models;
    this.#requestedVersion = options.version;
  }

  /** Subclasses call this at the end of their constructor, once their fields exist. */
  protected init(): void {
    const active = activeVersion(this.models.db, this.name);
    this.#target(this.#requestedVersion ?? active ?? 1);
    if (active === undefined && this.#requestedVersion === undefined) {
      this.models.transaction(() => activate(this.models.db, this.name, this.#version, this.tables));
    }
  }

  get version(): number {
    return this.#version;
  }

  get checkpointName(): string {
    return `${this.name}@v${this.#version}`;
  }

  #target(version: number): void {
    this.#version = version;
    this.createTables(version);
    this.prepare(version);
  }

  /** Creates this version's physical tables and indexes (idempotent). */
  protected abstract createTables(version: number): void;
  /** Prepares the write statements against this version's physical tables. */
  protected abstract prepare(version: number): void;
  /** Applies one event of a batch (inside the transaction, checkpoint already checked). */
  protected abstract apply(recorded: RecordedEvent): void;
  /** Around each batch, inside its transaction: a projection may keep touched documents in memory. */
  protected beginBatch(): void {}
  protected endBatch(): void {}

  loadCheckpoint(): Promise<number> {
    if (this.#requestedVersion === undefined) {
      const active = activeVersion(this.models.db, this.name);
      if (active !== undefined && active !== this.#version) this.#target(active);
    }
    return Promise.resolve(this.models.checkpoint(this.checkpointName));
  }

  handle(batch: readonly RecordedEvent[]): Promise<void> {
    this.models.transaction(() => {
      if (this.#requestedVersion === undefined) {
        const active = activeVersion(this.models.db, this.name);
        if (active !== undefined && active !== this.#version)
          throw new ReadModelVersionSwitchedError(this.name, this.#version, active);
      }
      const applied = this.models.checkpoint(this.checkpointName);
      this.beginBatch();
      for (const recorded of batch) if (recorded.position > applied) this.apply(recorded);
      this.endBatch();
      const last = batch[batch.length - 1];
      if (last !== undefined && last.position > applied) this.models.saveCheckpoint(this.checkpointName, last.position);
    });
    return Promise.resolve();
  }
}
