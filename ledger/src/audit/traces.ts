import { accountStreamPrefix, isAccountStream, type AccountEventOf } from '../accounts/events.js';
import { accountEventOf } from '../accounts/accountEvent.js';
import { readEventsMax, type EventStore, type RecordedEvent } from '../eventStore/eventStore.js';
import { auditEntryOf, occurredAtOf, type AuditEntry } from './accountAudit.js';

/** What an audit index keeps events under. */
export type TraceKeyKind = 'correlation' | 'boost' | 'transfer' | 'target' | 'counterparty';

export interface TraceKey {
  readonly kind: TraceKeyKind;
  readonly key: string;
}

/** Where an indexed event sits in the log: enough to read it back and check it. */
export interface EventRef {
  readonly stream: string;
  readonly revision: number;
  readonly position: number;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export const targetKey = (targetType: string, targetId: string): string => `${targetType}:${targetId}`;

/**
 * The keys one account event is found under: its request, the boost, transfer or boost target it
 * names, and the platform or clan account that takes its opposite leg (its `counterparty`).
 */
export const traceKeysOf = (event: RecordedEvent): TraceKey[] => {
  if (!isAccountStream(event.stream)) return [];
  const keys: TraceKey[] = [];
  const correlationId = str(event.metadata.correlationId);
  if (correlationId !== undefined) keys.push({ kind: 'correlation', key: correlationId });
  const boostId = str(event.data.boostId);
  if (boostId !== undefined) keys.push({ kind: 'boost', key: boostId });
  const transferId = str(event.data.transferId);
  if (transferId !== undefined) keys.push({ kind: 'transfer', key: transferId });
  const targetType = str(event.data.targetType);
  const targetId = str(event.data.targetId);
  if ((event.type === 'BoostActivated' || event.type === 'BoostExpired') && targetType !== undefined && targetId !== undefined)
    keys.push({ kind: 'target', key: targetKey(targetType, targetId) });
  const counterparty = str(event.data.counterparty);
  if (counterparty !== undefined) keys.push({ kind: 'counterparty', key: counterparty });
  return keys;
};

/**
 * Reads indexed events back from the log, one answer per reference in the references' order: the
 * event, if it is where the index says (stream, revision and position) and still carries the key;
 * undefined if the reference does not hold. An index is a lead, the log is the answer. Batched: one
 * `readEvents` call per `readEventsMax` references (one statement on SQLite), not one read each.
 */
export const readRefs = async (
  store: EventStore,
  refs: readonly EventRef[],
  key: TraceKey,
): Promise<(RecordedEvent | undefined)[]> => {
  const checked: (RecordedEvent | undefined)[] = [];
  for (let from = 0; from < refs.length; from += readEventsMax) {
    const batch = refs.slice(from, from + readEventsMax);
    const read = await store.readEvents(batch);
    batch.forEach((ref, i) => {
      const event = read[i];
      const holds =
        event !== undefined &&
        event.stream === ref.stream &&
        event.revision === ref.revision &&
        event.position === ref.position &&
        traceKeysOf(event).some((k) => k.kind === key.kind && k.key === key.key);
      checked.push(holds ? event : undefined);
    });
  }
  return checked;
};

/**
 * Reads indexed events back from the log (`readRefs`) and keeps only those that hold. Returns the
 * events in log order and how many references did not hold.
 */
export const readIndexed = async (
  store: EventStore,
  refs: readonly EventRef[],
  key: TraceKey,
): Promise<{ events: RecordedEvent[]; mismatches: number }> => {
  const checked = await readRefs(store, refs, key);
  const events = checked.filter((e): e is RecordedEvent => e !== undefined);
  events.sort((a, b) => a.position - b.position);
  return { events, mismatches: checked.length - events.length };
};

const userOf = (event: RecordedEvent): string => event.stream.slice(accountStreamPrefix.length);
const ms = (iso: string): number => Date.parse(iso);

export interface BoostLifecycle {
  readonly boostId: string;
  readonly payer: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly amount: number;
  readonly durationHours: number;
  readonly activatedAt: string;
  /** When it was due to expire. */
  readonly dueAt: string;
  /** When its expiry was recorded (domain time), null while active. */
  readonly expiredAt: string | null;
  /** expiredAt − dueAt, null while active. */
  readonly latenessMs: number | null;
  readonly active: boolean;
  readonly events: readonly AuditEntry[];
}

/** A boost's life from its events (activation, then expiry), or undefined without an activation. */
export const boostLifecycleOf = (boostId: string, events: readonly RecordedEvent[]): BoostLifecycle | undefined => {
  let activated: { recorded: RecordedEvent; data: AccountEventOf<'BoostActivated'>['data'] } | undefined;
  let expired: { recorded: RecordedEvent; data: AccountEventOf<'BoostExpired'>['data'] } | undefined;
  for (const recorded of events) {
    const decoded = accountEventOf(recorded);
    if (decoded === undefined) continue;
    const { event } = decoded;
    if (event.type === 'BoostActivated' && event.data.boostId === boostId) activated ??= { recorded, data: event.data };
    if (event.type === 'BoostExpired' && event.data.boostId === boostId) expired ??= { recorded, data: event.data };
  }
  if (activated === undefined) return undefined;
  const d = activated.data;
  const expiredAt = expired?.data.expiredAt ?? null;
  return {
    boostId,
    payer: userOf(activated.recorded),
    targetType: d.targetType,
    targetId: d.targetId,
    amount: d.amount,
    durationHours: d.durationHours,
    activatedAt: d.activatedAt,
    dueAt: d.expiresAt,
    expiredAt,
    latenessMs: expiredAt === null ? null : ms(expiredAt) - ms(d.expiresAt),
    active: expired === undefined,
    events: [activated.recorded, ...(expired === undefined ? [] : [expired.recorded])].map(auditEntryOf),
  };
};

export interface TransferTrace {
  readonly transferId: string;
  readonly payer: string;
  readonly payee: string;
  readonly gigId: string;
  readonly amount: number;
  readonly sentAt: string | null;
  readonly receivedAt: string | null;
  /** receivedAt − sentAt (domain time), null while in transit. */
  readonly inTransitMs: number | null;
  readonly settled: boolean;
  readonly events: readonly AuditEntry[];
}

/** A gig payment's two legs: the payer's debit and the payee's credit (the settlement). */
export const transferTraceOf = (transferId: string, events: readonly RecordedEvent[]): TransferTrace | undefined => {
  let sent: { recorded: RecordedEvent; data: AccountEventOf<'GigPaymentSent'>['data'] } | undefined;
  let received: { recorded: RecordedEvent; data: AccountEventOf<'GigPaymentReceived'>['data'] } | undefined;
  for (const recorded of events) {
    const decoded = accountEventOf(recorded);
    if (decoded === undefined) continue;
    const { event } = decoded;
    if (event.type === 'GigPaymentSent' && event.data.transferId === transferId) sent ??= { recorded, data: event.data };
    if (event.type === 'GigPaymentReceived' && event.data.transferId === transferId) received ??= { recorded, data: event.data };
  }
  if (sent === undefined && received === undefined) return undefined;
  const sentAt = sent === undefined ? null : occurredAtOf(sent.recorded);
  const receivedAt = received === undefined ? null : occurredAtOf(received.recorded);
  return {
    transferId,
    payer: sent !== undefined ? userOf(sent.recorded) : (received as NonNullable<typeof received>).data.payerId,
    payee: received !== undefined ? userOf(received.recorded) : (sent as NonNullable<typeof sent>).data.payeeId,
    gigId: (sent ?? received)?.data.gigId ?? '',
    amount: (sent ?? received)?.data.amount ?? 0,
    sentAt,
    receivedAt,
    inTransitMs: sentAt === null || receivedAt === null ? null : ms(receivedAt) - ms(sentAt),
    settled: received !== undefined,
    events: [sent?.recorded, received?.recorded].filter((e): e is RecordedEvent => e !== undefined).map(auditEntryOf),
  };
};

/** Events read per page by `scanForKeys`. */
const scanPageEventsMax = 1000;

/**
 * Without an index: one pass over the log (bounded pages) collecting the events under `keys`. With
 * `follow`, the boosts and transfers named by events found also become keys, so a request's trace
 * picks up the expiry and settlement that followed it (always later in the log than their cause).
 */
export const scanForKeys = async (
  store: EventStore,
  keys: readonly TraceKey[],
  options: {
    readonly follow?: boolean;
    readonly onProgress?: (progress: { readonly position: number; readonly eventsRead: number }) => void;
  } = {},
): Promise<RecordedEvent[]> => {
  const wanted = new Set(keys.map((k) => `${k.kind}\n${k.key}`));
  const found: RecordedEvent[] = [];
  let eventsRead = 0;
  for (let after = -1; ;) {
    const page = await store.readAll({ after, maxCount: scanPageEventsMax });
    if (page.length === 0) return found;
    for (const event of page) {
      eventsRead += 1;
      const eventKeys = traceKeysOf(event);
      if (!eventKeys.some((k) => wanted.has(`${k.kind}\n${k.key}`))) continue;
      found.push(event);
      if (options.follow === true)
        for (const k of eventKeys) if (k.kind === 'boost' || k.kind === 'transfer') wanted.add(`${k.kind}\n${k.key}`);
    }
    after = (page[page.length - 1] as RecordedEvent).position;
    options.onProgress?.({ position: after, eventsRead });
  }
};
