import type { EventStore } from '../../../ledger/src/index.js';
import type { FailedEvent } from './subscriber.js';

/**
 * A projection stopped on an event, kept as a side record of the event store (`stopped-on:<projection>`)
 * so that processes other than the one running it see it: `npm run projections -- status` above all.
 * Written when the projection reports the event, cleared (`failedOn: null`) when it moves past it; a
 * reader also ignores a record at or below the projection's checkpoint (the process stopped before it
 * could clear it, and the event was folded since).
 */
export const stoppedOnRecordKey = (projection: string): string => `stopped-on:${projection}`;

export const writeStoppedOn = (store: EventStore, projection: string, failed: FailedEvent | undefined): Promise<void> =>
  store.writeRecord(stoppedOnRecordKey(projection), { failedOn: failed === undefined ? null : { ...failed } });

const isFailedEvent = (value: unknown): value is FailedEvent => {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ['stream', 'id', 'type', 'error'].every((key) => typeof v[key] === 'string') &&
    ['revision', 'position'].every((key) => Number.isSafeInteger(v[key]))
  );
};

/** The event the projection is stopped on, if its record names one past `checkpoint`. */
export const readStoppedOn = async (
  store: EventStore,
  projection: string,
  checkpoint: number,
): Promise<FailedEvent | undefined> => {
  const record = await store.readRecord(stoppedOnRecordKey(projection));
  const failed = record?.['failedOn'];
  return isFailedEvent(failed) && failed.position > checkpoint ? failed : undefined;
};
