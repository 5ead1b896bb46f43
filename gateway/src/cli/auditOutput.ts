import { SingleBar } from 'cli-progress';
import { type ChainBreak, type DigestFinding, type EventStore } from '../../../ledger/src/index.js';

// What the audit CLI prints: progress bars, tables, findings in words, CSV cells (the commands are in audit.ts).

/** A progress bar over log positions, on stderr (stdout stays for the answer), only for a terminal. */
export const progressBar = async (store: EventStore, enabled: boolean, label = 'verifying') => {
  if (!enabled || process.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined };
  const head = await store.headPosition();
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {eventsRead} events`,
    hideCursor: true,
  });
  bar.start(Math.max(head, 1), 0, { eventsRead: 0 });
  return {
    update: (p: { position: number; eventsRead: number }) => bar.update(p.position, { eventsRead: p.eventsRead }),
    stop: () => bar.stop(),
  };
};

export const describeBreak = (b: ChainBreak): string => {
  const where = `${b.stream} at revision ${b.revision} (log position ${b.position})`;
  switch (b.kind) {
    case 'revision_gap':
      return `${where}: expected revision ${b.expectedRevision} next, found ${b.foundRevision} (an event is missing or out of order)`;
    case 'prev_hash_mismatch':
      return `${where}: names predecessor ${b.foundHash}, expected ${b.expectedHash} (something before it was removed, inserted or reordered)`;
    case 'content_hash_mismatch':
      return `${where}: content hashes to ${b.expectedHash}, carries ${b.foundHash} (edited after it was written)`;
    case 'hidden':
      return b.firstReadableRevision === -1
        ? `${where}: the log holds the stream but reading it returns nothing (deleted; the log loses it at the next scavenge)`
        : `${where}: reading the stream starts at revision ${b.firstReadableRevision}, the log holds it from 0 (truncated; the log loses it at the next scavenge)`;
  }
};

export const describeFinding = (f: DigestFinding): string => {
  switch (f.kind) {
    case 'rewritten':
      return `${f.stream}: rewritten up to revision ${f.revision} (hash there is ${f.foundHash}, the digest signed ${f.expectedHash})`;
    case 'truncated':
      return f.foundRevision === -1
        ? `${f.stream}: deleted (the digest has it up to revision ${f.expectedRevision})`
        : `${f.stream}: truncated (ends at revision ${f.foundRevision}, the digest has it up to ${f.expectedRevision})`;
    case 'inserted':
      return `${f.stream}: revision ${f.revision} at log position ${f.position} is before the digest's head but not in the digest (inserted)`;
    case 'log_truncated':
      return `log: ends at position ${f.foundPosition}, the digest's head is ${f.expectedPosition} (events cut from its end)`;
  }
};

/** A small table for people: one line per row, columns padded to their widest cell. */
export const table = (rows: readonly Record<string, unknown>[], columns: readonly string[]): void => {
  const cell = (v: unknown): string =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : `${v as string | number | boolean}`;
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  console.log(columns.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
  for (const r of rows) console.log(columns.map((c, i) => cell(r[c]).padEnd(widths[i] ?? 0)).join('  '));
};
export const entryColumns = ['position', 'stream', 'revision', 'type', 'occurredAt', 'actor', 'correlationId', 'data'];
export const print = (json: boolean | undefined, value: unknown, human: () => void): void => {
  if (json === true) process.stdout.write(`${JSON.stringify(value)}\n`);
  else human();
};

export const csvColumns = [
  'position',
  'stream',
  'revision',
  'eventId',
  'type',
  'occurredAt',
  'recordedAt',
  'actor',
  'correlationId',
  'causationId',
  'commandId',
  'commandType',
  'data',
] as const;
export const csvCell = (v: unknown): string => {
  const text =
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : `${v as string | number | boolean}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};
