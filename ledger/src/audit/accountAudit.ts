import assert from 'node:assert/strict';
import type { EventStore, JsonObject, RecordedEvent } from '../eventStore/eventStore.js';

/** Limits of the per-account audit reads, in one place. */
export const accountAuditLimits = {
  /** Events read per page of one account's stream (the stores cap a read at 1000). */
  readPageEventsMax: 1000,
  /** Largest page of audit entries. */
  entriesPageMax: 500,
  entriesPageDefault: 100,
  /** Most events one page request scans for its filters; a page that hits it ends early with a cursor. */
  scanEventsMax: 20_000,
} as const;

/** One event as an auditor sees it: where it sits, when, who asked and as part of what. */
export interface AuditEntry {
  readonly eventId: string;
  readonly type: string;
  readonly stream: string;
  readonly revision: number;
  readonly position: number;
  /** Domain time: the injected clock's `now` when the command was decided. */
  readonly occurredAt: string;
  /** Engine time: when the store recorded it. */
  readonly recordedAt: string;
  readonly actor: string | null;
  readonly correlationId: string | null;
  readonly causationId: string | null;
  readonly commandId: string | null;
  readonly commandType: string | null;
  readonly data: JsonObject;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The instant an event happened in domain time (ISO 8601 UTC, milliseconds), as the ledger wrote it. */
export const occurredAtOf = (event: RecordedEvent): string => text(event.metadata.occurredAt) ?? event.recordedAt;

export const auditEntryOf = (event: RecordedEvent): AuditEntry => ({
  eventId: event.id,
  type: event.type,
  stream: event.stream,
  revision: event.revision,
  position: event.position,
  occurredAt: occurredAtOf(event),
  recordedAt: event.recordedAt,
  actor: text(event.metadata.actor),
  correlationId: text(event.metadata.correlationId),
  causationId: text(event.metadata.causationId),
  commandId: text(event.metadata.commandId),
  commandType: text(event.metadata.commandType),
  data: event.data,
});

export interface EntriesPage {
  readonly entries: readonly AuditEntry[];
  /** The revision to continue from, or null at the end of the stream. */
  readonly nextRevision: number | null;
}

/**
 * One page of an account's events in revision order from `fromRevision`, filtered by type and by a
 * half-open domain-time window [from, to). Scans at most `scanEventsMax` events: a selective filter
 * on a long history answers a short page with a cursor rather than reading without end.
 */
export const accountEntries = async (
  store: EventStore,
  stream: string,
  query: {
    readonly fromRevision: number;
    readonly limit: number;
    readonly from?: string | undefined;
    readonly to?: string | undefined;
    readonly types?: ReadonlySet<string> | undefined;
  },
): Promise<EntriesPage> => {
  assert.ok(query.limit >= 1 && query.limit <= accountAuditLimits.entriesPageMax, 'page limit within bounds');
  const entries: AuditEntry[] = [];
  let revision = query.fromRevision;
  let scanned = 0;
  while (scanned < accountAuditLimits.scanEventsMax) {
    const page = await store.readStream(stream, {
      fromRevision: revision,
      maxCount: Math.min(accountAuditLimits.readPageEventsMax, accountAuditLimits.scanEventsMax - scanned),
    });
    if (page.length === 0) return { entries, nextRevision: null };
    for (const event of page) {
      scanned += 1;
      revision = event.revision + 1;
      const occurredAt = occurredAtOf(event);
      // Skipped, not stopped at: nothing in the port promises domain time only moves forward in a stream.
      if (query.to !== undefined && occurredAt >= query.to) continue;
      if (query.from !== undefined && occurredAt < query.from) continue;
      if (query.types !== undefined && !query.types.has(event.type)) continue;
      entries.push(auditEntryOf(event));
      if (entries.length === query.limit) return { entries, nextRevision: revision };
    }
  }
  return { entries, nextRevision: revision };
};
