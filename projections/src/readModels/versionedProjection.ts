import assert from 'node:assert/strict';
import { type RecordedEvent } from '../../../ledger/src/index.js';
import type { Subscriber } from '../runtime/subscriber.js';
import { ReadModelVersionSwitchedError } from './errors.js';
import type { CollectionSpec, ReadModelStore, Write } from './readModelStore.js';

/**
 * Blue/green versions of read models. Each version of a read-model family writes its own physical
 * collections (`{collection}__v{n}`); readers ask the store which version is active and read that one.
 * A rebuild fills version n+1 from the start of the log while version n keeps serving, and switches
 * readers with one atomic write once it has caught up, so readers never see a half-built version.
 */
export const physicalCollection = (collection: string, version: number): string => `${collection}__v${version}`;

/** The checkpoint of one version of a read-model family (`{family}@v{n}`), committed with its writes. */
export const versionedCheckpointName = (family: string, version: number): string => `${family}@v${version}`;

/**
 * The marker of which folds built one version of a family (`{family}@v{n}/folds`): kept as a
 * checkpoint (one number that only moves forward), whose position is the `foldsVersion` of the code
 * that created the version. A version with no marker was built before markers existed.
 */
export const foldsMarkerName = (family: string, version: number): string => `${versionedCheckpointName(family, version)}/folds`;

/** Versions of a family that have collections, from the store itself. */
export const builtVersions = async (store: ReadModelStore, collection: string): Promise<number[]> =>
  (await store.listCollections(`${collection}__v`))
    .map((name) => Number(name.slice(collection.length + 3)))
    .filter((n) => Number.isSafeInteger(n) && n > 0)
    .sort((a, b) => a - b);

/** How a projection writes: live (every batch committed at once) or building a version from scratch. */
export const projectionLimits = {
  /**
   * A builder keeps folding batches in memory and commits every this many events: far fewer writes
   * (a document touched by many events is written once; a boost activated and expired inside the
   * window never reaches the store) and bigger transactions. A crash loses at most this much work.
   */
  builderFlushEvents: 100_000,
} as const;

/**
 * A versioned read model on the read-model store port. The live instance follows whatever version
 * readers use (and re-targets when a rebuild switches them); a builder instance (`version` given)
 * fills one specific version from the start of the log, creating its secondary indexes only at the
 * end (`finishBuild`), when building them in one pass is much cheaper than keeping them up to date.
 *
 * Events are folded in memory — the subclass loads the documents it touches and folds the events into
 * them — and the resulting writes are committed with the checkpoint (`{family}@v{n}`): after every
 * batch when live, every `builderFlushEvents` when building. Events at or below the checkpoint are
 * skipped, and every document carries the position of the last event folded into it, so a batch
 * delivered twice, or replayed after a crash that left part of it written (MongoDB has no
 * transaction here), changes nothing.
 */
export interface VersionedProjectionOptions {
  /** Build this version (a builder) instead of following the one readers use. */
  readonly version?: number;
  /** A builder's commit interval (default `projectionLimits.builderFlushEvents`); tests make it small. */
  readonly builderFlushEvents?: number;
}

export abstract class VersionedProjection implements Subscriber {
  abstract readonly name: string;
  /**
   * Which folds this code runs: bumped whenever the folds would make different documents from the
   * same log (a formula, a field's type). A live projection that finds readers on a version built by
   * other folds starts a new version from the start of the log (`loadCheckpoint`).
   */
  abstract readonly foldsVersion: number;
  /** Collections of this read model, by their reader-facing names. */
  abstract readonly collections: readonly CollectionSpec[];
  readonly store: ReadModelStore;
  readonly #requestedVersion: number | undefined;
  readonly #builderFlushEvents: number;
  #version: number | undefined;
  /** Events folded but not yet committed (builder only), and the last one's position. */
  #unflushedEvents = 0;
  #unflushedPosition = -1;

  protected constructor(store: ReadModelStore, options: VersionedProjectionOptions = {}) {
    this.store = store;
    this.#requestedVersion = options.version;
    this.#builderFlushEvents = options.builderFlushEvents ?? projectionLimits.builderFlushEvents;
  }

  /** The version this instance writes (known once the first checkpoint is loaded). */
  get version(): number {
    return this.#version ?? this.#requestedVersion ?? 1;
  }

  get checkpointName(): string {
    return versionedCheckpointName(this.name, this.version);
  }

  get #building(): boolean {
    return this.#requestedVersion !== undefined;
  }

  /** Physical names of the version being written, made once per version (asked for on every event). */
  readonly #writingNames = new Map<string, string>();
  #writingNamesVersion = -1;

  /** The physical name of one of this read model's collections in the version this instance writes. */
  protected writing(collection: string): string {
    const version = this.version;
    if (version !== this.#writingNamesVersion) {
      this.#writingNames.clear();
      this.#writingNamesVersion = version;
    }
    let name = this.#writingNames.get(collection);
    if (name === undefined) {
      name = physicalCollection(collection, version);
      this.#writingNames.set(collection, name);
    }
    return name;
  }

  /** The version readers use (the first version before any build). */
  async readingVersion(): Promise<number> {
    return (await this.store.activeVersion(this.name)) ?? 1;
  }

  /** The physical name of a collection in the version readers use. */
  async reading(collection: string): Promise<string> {
    return physicalCollection(collection, await this.readingVersion());
  }

  /**
   * Collections whose indexes the projection itself queries while folding; a builder creates these
   * up front (the others once it has caught up).
   */
  protected readonly indexedWhileBuilding: readonly string[] = [];

  async #target(version: number, withIndexes: boolean): Promise<void> {
    if (version !== this.#version) this.#forget();
    for (const spec of this.collections) {
      await this.store.ensureCollection({
        ...spec,
        name: physicalCollection(spec.name, version),
        indexes: withIndexes || this.indexedWhileBuilding.includes(spec.name) ? spec.indexes : [],
      });
    }
    this.#version = version;
  }

  /** Drops everything folded but not committed: after a failure, or when the version changes. */
  #forget(): void {
    this.#unflushedEvents = 0;
    this.#unflushedPosition = -1;
    this.reset();
  }

  async loadCheckpoint(): Promise<number> {
    if (this.#requestedVersion !== undefined) {
      if (this.#version === undefined) {
        await this.#target(this.#requestedVersion, false);
        await this.#markFolds(this.#requestedVersion);
      }
    } else {
      const active = await this.store.activeVersion(this.name);
      if (active === undefined) {
        await this.#target(1, true);
        await this.#markFolds(1);
        await this.store.setActiveVersion(this.name, 1);
      } else if ((await this.store.checkpoint(foldsMarkerName(this.name, active))) < this.foldsVersion) {
        await this.#refold(active);
      } else if (active !== this.#version) {
        await this.#target(active, true);
      }
    }
    return this.store.checkpoint(this.checkpointName);
  }

  async #markFolds(version: number): Promise<void> {
    await this.store.commit([], { name: foldsMarkerName(this.name, version), position: this.foldsVersion });
  }

  /**
   * Readers are on a version that older folds built (an existing data directory after an upgrade
   * that changed a formula): its documents are not what this code would make from the log, and
   * folding on into them would mix the two. Start a new version from the start of the log and point
   * readers at it at once; the read model's routes answer 503 READ_MODEL_NOT_READY until this process
   * has caught up (as on a fresh start), never documents of the old formula passed off as current.
   * The old version's collections stay until the next `rebuild` drops them.
   */
  async #refold(stale: number): Promise<void> {
    const built = await Promise.all(this.collections.map((spec) => builtVersions(this.store, spec.name)));
    const version = Math.max(stale, ...built.flat()) + 1;
    await this.#target(version, true);
    await this.#markFolds(version);
    await this.store.setActiveVersion(this.name, version);
  }

  /** Folds events (all after the checkpoint, in log order) into the documents held in memory. */
  protected abstract project(events: readonly RecordedEvent[]): Promise<void>;
  /** The writes for everything folded since the last drain; forgets it. */
  protected abstract drain(): Promise<Write[]>;
  /** Forgets everything folded since the last drain, without writing it. */
  protected abstract reset(): void;
  /**
   * Writes a builder commits after each batch, ahead of the checkpoint that covers them (and so taken
   * out of what `drain` returns): only inserts of entries nothing folds from, keyed by their event, so
   * that a replay after a crash inserts nothing again. Held until the flush, a rebuild's event-log
   * entries (most of what it writes) outlived the young generation and cost a fifth of its time in
   * collections. None by default.
   */
  protected takeWritesAhead(): Write[] {
    return [];
  }

  async handle(batch: readonly RecordedEvent[]): Promise<void> {
    if (this.#version === undefined) await this.loadCheckpoint();
    if (!this.#building) {
      const active = await this.store.activeVersion(this.name);
      if (active !== undefined && active !== this.#version)
        throw new ReadModelVersionSwitchedError(this.name, this.version, active);
    }
    // Only a builder holds folded events across batches; a live projection commits every batch.
    const applied = Math.max(await this.store.checkpoint(this.checkpointName), this.#unflushedPosition);
    const fresh = batch.filter((recorded) => recorded.position > applied);
    const last = fresh[fresh.length - 1];
    if (last === undefined) return;
    try {
      await this.project(fresh);
      this.#unflushedEvents += fresh.length;
      this.#unflushedPosition = last.position;
      if (!this.#building || this.#unflushedEvents >= this.#builderFlushEvents) await this.flush();
      else {
        const ahead = this.takeWritesAhead();
        assert.ok(
          ahead.every((write) => write.op === 'insert'),
          'only inserts are committed ahead of their checkpoint',
        );
        if (ahead.length > 0) await this.store.commit(ahead);
      }
    } catch (error) {
      // Whatever was folded is now suspect (half a batch, or a commit that did not happen): the
      // runtime resubscribes from the durable checkpoint and folds it again from the store.
      this.#forget();
      throw error;
    }
  }

  /** Commits everything folded so far with the checkpoint. */
  async flush(): Promise<void> {
    if (this.#unflushedEvents === 0) return;
    try {
      const writes = await this.drain();
      await this.store.commit(writes, { name: this.checkpointName, position: this.#unflushedPosition });
    } finally {
      // Committed, or failed and to be folded again from the durable checkpoint: either way, gone.
      this.#forget();
    }
  }

  /** A builder's last step before readers switch to its version: flush, then create the indexes. */
  async finishBuild(): Promise<void> {
    await this.flush();
    await this.#target(this.version, true);
  }
}
