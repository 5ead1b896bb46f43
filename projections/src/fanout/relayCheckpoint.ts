import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type EventStore } from '../../../ledger/src/index.js';

/**
 * Where the relay keeps the position of the last event the broker confirmed. It must not live in the
 * read-model store: a rebuild or a lost read-model database must not make the relay re-publish the
 * whole log. The server keeps it with the log itself, in the event store's side records
 * (`relayCheckpointOf`); `FileRelayCheckpoint` keeps it in a file, for tests and tools.
 */
export interface RelayCheckpoint {
  /** The saved position, or undefined when none was ever saved (or it was lost). */
  load(): Promise<number | undefined>;
  /** Durably records the position (returns once it would survive a crash). */
  save(position: number): Promise<void>;
}

/**
 * A checkpoint in a JSON file: written to a temporary file, fsynced, renamed over the old one, and
 * the directory fsynced, so a crash leaves either the old or the new position, never a torn file.
 */
export class FileRelayCheckpoint implements RelayCheckpoint {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<number | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as { position?: unknown };
    if (typeof parsed.position !== 'number' || !Number.isSafeInteger(parsed.position) || parsed.position < -1) {
      throw new Error(`relay checkpoint ${this.path} is corrupt: ${text.slice(0, 100)}`);
    }
    return parsed.position;
  }

  async save(position: number): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${randomUUID()}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(JSON.stringify({ position }));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, this.path);
    const directory = await open(dirname(this.path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}

/** A relay checkpoint in a file of the data directory. */
export const relayCheckpointFile = (dataDir: string): FileRelayCheckpoint =>
  new FileRelayCheckpoint(join(dataDir, 'relay-checkpoint.json'));

/** The side record that holds a relay's checkpoint. */
export const relayCheckpointKey = (relayName: string): string => `checkpoint:${relayName}`;

/**
 * The relay's checkpoint as a side record of the event store (`checkpoint:<relay>`): written with the
 * log's own durability, on every engine, and never lost with the read models.
 */
export const relayCheckpointOf = (store: EventStore, relayName = 'rabbitmq_relay'): RelayCheckpoint => ({
  load: async () => {
    const record = await store.readRecord(relayCheckpointKey(relayName));
    if (record === undefined) return undefined;
    const position = record['position'];
    if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < -1) {
      throw new Error(`relay checkpoint record ${relayCheckpointKey(relayName)} is corrupt: ${JSON.stringify(record)}`);
    }
    return position;
  },
  save: (position) => store.writeRecord(relayCheckpointKey(relayName), { position }),
});
