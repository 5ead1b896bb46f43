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

/**
 * The ledger writes instants as luxon's `toISO()` of a UTC time: `YYYY-MM-DDTHH:mm:ss.SSSZ`, fixed
 * width, so two of them compare as strings in time order, with no parsing on the hot path.
 */
const fixedWidthInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface BalanceAsOf {
  readonly balance: number;
  /** Revision of the last event folded, -1 when none is as old as the instant. */
  readonly revision: number;
  /** Its log position, -1 when none. */
  readonly position: number;
  /** Its domain time, null when none. */
  readonly occurredAt: string | null;
  readonly eventsFolded: number;
}

/**
 * An account's balance as of an instant: the fold of the stream's events up to it, that is, the
 * longest prefix of the stream (in revision order) whose events occurred at or before `asOf`. Every
 * credit-moving event carries `balanceAfter`, which the command handler's `evolve` checked against
 * the fold when it was written and checks again whenever it loads the account, so the fold up to an
 * event is that event's `balanceAfter`; the read stops at the first later event, so an instant early
 * in a long history reads little.
 */
export const balanceAsOf = async (store: EventStore, stream: string, asOf: string): Promise<BalanceAsOf> => {
  assert.match(asOf, fixedWidthInstant, 'asOf is a UTC instant with milliseconds');
  let balance = 0;
  let last: RecordedEvent | undefined;
  let eventsFolded = 0;
  for (let fromRevision = 0; ;) {
    const page = await store.readStream(stream, { fromRevision, maxCount: accountAuditLimits.readPageEventsMax });
    for (const event of page) {
      assert.equal(event.revision, (last?.revision ?? -1) + 1, `${stream}: revision gap at ${event.revision}`);
      const occurredAt = occurredAtOf(event);
      assert.match(occurredAt, fixedWidthInstant, `${stream}@${event.revision}: occurredAt is not a UTC instant`);
      if (occurredAt > asOf) return result(balance, last, eventsFolded);
      const after = event.data.balanceAfter;
      if (after !== undefined) {
        assert.ok(typeof after === 'number' && Number.isSafeInteger(after) && after >= 0, `${stream}: balanceAfter`);
        balance = after;
      }
      last = event;
      eventsFolded += 1;
    }
    if (page.length === 0) return result(balance, last, eventsFolded);
    fromRevision = (page[page.length - 1] as RecordedEvent).revision + 1;
  }
};

const result = (balance: number, last: RecordedEvent | undefined, eventsFolded: number): BalanceAsOf => ({
  balance,
  revision: last?.revision ?? -1,
  position: last?.position ?? -1,
  occurredAt: last === undefined ? null : occurredAtOf(last),
  eventsFolded,
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
