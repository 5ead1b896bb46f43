import { foldOnce } from './foldOnce.js';
import type { Doc, ReadModelStore, Write } from './readModelStore.js';

interface Entry<T> {
  doc: T;
  /** Position of the last event folded into the document (-1 for a new one). */
  position: number;
  changed: boolean;
}

/**
 * The documents of one collection that a batch touches: loaded with one query, changed in memory by
 * every event of the batch, written once at its end. Each document remembers the position of the last
 * event folded into it, and an event at or below that position is not folded again — which is what
 * makes a replayed batch a no-op even when part of it was already written.
 */
/**
 * How documents are stored when they hold what JSON cannot (a bigint total is stored as its decimal
 * string): `decode` reads a stored document (fields only, no `_id`/`_position`), `encode` writes one.
 */
export interface DocumentCodec<T> {
  readonly decode: (stored: Doc) => T;
  readonly encode: (doc: T) => Doc;
}

export class BatchDocuments<T extends object> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #store: ReadModelStore;
  readonly #collection: string;
  readonly #empty: (id: string) => T;
  readonly #codec: DocumentCodec<T> | undefined;

  constructor(store: ReadModelStore, collection: string, empty: (id: string) => T, codec?: DocumentCodec<T>) {
    this.#store = store;
    this.#collection = collection;
    this.#empty = empty;
    this.#codec = codec;
  }

  /** Loads the stored documents among `ids` (the rest start empty). */
  async load(ids: Iterable<string>): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.#entries.has(id));
    const stored = await this.#store.getMany(this.#collection, missing);
    for (const id of missing) {
      const found = stored.get(id);
      if (found === undefined) {
        this.#entries.set(id, { doc: this.#empty(id), position: -1, changed: false });
      } else {
        const { _id, _position, ...doc } = found;
        this.#entries.set(id, {
          doc: this.#codec === undefined ? (doc as T) : this.#codec.decode(doc),
          position: typeof _position === 'number' ? _position : -1,
          changed: false,
        });
      }
    }
  }

  get(id: string): T {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new Error(`${this.#collection}/${id} was not loaded for this batch`);
    return entry.doc;
  }

  /** The position of the last event folded into a loaded document (-1: none yet). */
  positionOf(id: string): number {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new Error(`${this.#collection}/${id} was not loaded for this batch`);
    return entry.position;
  }

  /** Replaces a loaded document without moving its position (derived fields computed at the batch's end). */
  set(id: string, doc: T): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new Error(`${this.#collection}/${id} was not loaded for this batch`);
    entry.doc = doc;
  }

  /** Folds one event into a document, unless the document already holds it. Returns whether it did. */
  update(id: string, position: number, change: (doc: T) => T): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new Error(`${this.#collection}/${id} was not loaded for this batch`);
    const folded = foldOnce(entry, position, change);
    if (folded === entry) return false;
    entry.doc = folded.doc;
    entry.position = folded.position;
    entry.changed = true;
    return true;
  }

  /** The changed documents of this batch. */
  *changed(): Generator<[id: string, doc: T]> {
    for (const [id, entry] of this.#entries) if (entry.changed) yield [id, entry.doc];
  }

  writes(): Write[] {
    const writes: Write[] = [];
    for (const [id, entry] of this.#entries) {
      if (!entry.changed) continue;
      const doc = this.#codec === undefined ? (entry.doc as Doc) : this.#codec.encode(entry.doc);
      writes.push({ op: 'put', collection: this.#collection, id, doc, position: entry.position });
    }
    return writes;
  }
}
