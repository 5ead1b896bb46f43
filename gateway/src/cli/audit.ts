import { createWriteStream } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { DateTime } from 'luxon';
import type { KeyObject } from 'node:crypto';
import {
  BrokenLogError,
  proveStream,
  verifyLog,
  type EventStore,
  type RecordedEvent,
  accountStream,
  boostTargetTypes,
  isValidId,
  accountEntries,
  auditEntryOf,
  balanceAsOf,
  occurredAtOf,
  type AuditEntry,
  boostLifecycleOf,
  scanForKeys,
  targetKey,
  transferTraceOf,
  openEventStore,
  systemClock,
} from '../../../ledger/src/index.js';
import {
  latestDigestFile,
  loadAuditConfig,
  readDigestFile,
  takeDigest,
  type AuditConfig,
} from '../../../projections/src/index.js';
import { ConfigError, loadStorageConfig } from '../config.js';
import { progressBar, describeBreak, describeFinding, table, entryColumns, print, csvColumns, csvCell } from './auditOutput.js';

/**
 * `npm run audit -- <command>`: audit the ledger on the same environment as the server (the same
 * LEDGER_DATA_DIR / EVENTSTORE_URL, the same audit keys). Tables for people by default, `--json` for
 * scripts. Exit status: 0 all good, 1 the log is not what it should be, 2 a usage or configuration error.
 */

class UsageError extends Error {}

const environment = async (): Promise<{ store: EventStore; audit: AuditConfig }> => {
  const storage = loadStorageConfig();
  const audit = loadAuditConfig(storage.dataDir, process.env.NODE_ENV === 'production');
  const store = await openEventStore({ eventStoreUrl: storage.eventStoreUrl, dataDir: storage.dataDir });
  return { store, audit };
};

const trustedKey = (audit: AuditConfig): KeyObject => {
  if (audit.verifyKey === undefined) throw new UsageError('checking a digest needs AUDIT_VERIFY_KEY or AUDIT_SIGNING_KEY');
  return audit.verifyKey;
};

const program = new Command().name('npm run audit --').description('Audit the ledger: verify its hash chains and digests');

program
  .command('verify')
  .description(
    "walk every stream's hash chain and report each stream's first broken link; with a digest, prove nothing up to it was changed",
  )
  .option('--digest <file>', 'also check the log against this signed digest')
  .option('--latest', 'also check the log against the newest digest in the digest directory')
  .option('--json', 'machine-readable output')
  .action(async (options: { digest?: string; latest?: boolean; json?: boolean }) => {
    const { store, audit } = await environment();
    try {
      let file = options.digest;
      if (file === undefined && options.latest === true) {
        file = latestDigestFile(audit.digestDir);
        if (file === undefined) throw new UsageError(`no digest in ${audit.digestDir}`);
      }
      let digest;
      if (file !== undefined) {
        const checked = readDigestFile(file, trustedKey(audit));
        if (!checked.ok) {
          if (options.json === true)
            process.stdout.write(`${JSON.stringify({ ok: false, digest: file, refused: checked.problem })}\n`);
          else console.error(`digest ${file} refused: ${checked.problem}`);
          process.exitCode = 1;
          return;
        }
        digest = checked.digest;
      }
      const bar = await progressBar(store, options.json !== true);
      const report = await verifyLog(store, { ...(digest === undefined ? {} : { digest }), onProgress: bar.update });
      bar.stop();
      process.exitCode = report.ok ? 0 : 1;
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify({ ...report, digest: file ?? null })}\n`);
        return;
      }
      console.log(`${report.eventsRead} events in ${report.streams} streams, log head ${report.headPosition}`);
      if (digest !== undefined)
        console.log(`digest ${file}: ${digest.createdAt}, log head ${digest.logHead.position}, root ${digest.root}`);
      for (const b of report.breaks) console.log(`BROKEN   ${describeBreak(b)}`);
      for (const f of report.findings) console.log(`CHANGED  ${describeFinding(f)}`);
      console.log(report.ok ? 'OK: every chain holds' + (digest === undefined ? '' : ' and matches the digest') : 'FAILED');
    } finally {
      await store.close();
    }
  });

program
  .command('digest')
  .description('sign a digest of every stream head and the log head, and write it to the digest directory')
  .option('--dir <dir>', 'where to write it (default AUDIT_DIGEST_DIR or <dataDir>/digests)')
  .option('--prove <stream>', 'also print the inclusion proof of one stream (e.g. account-ana) against the root')
  .option('--json', 'machine-readable output')
  .action(async (options: { dir?: string; prove?: string; json?: boolean }) => {
    const { store, audit } = await environment();
    try {
      if (audit.signingKey === undefined) throw new UsageError('a digest needs AUDIT_SIGNING_KEY');
      const { file, digest } = await takeDigest({
        store,
        signingKey: audit.signingKey,
        dir: options.dir ?? audit.digestDir,
        clock: systemClock,
      });
      const proof = options.prove === undefined ? undefined : proveStream(digest, options.prove);
      if (options.prove !== undefined && proof === undefined) throw new UsageError(`no stream ${options.prove} in the log`);
      if (options.json === true) {
        const { streams: _streams, ...summary } = digest;
        process.stdout.write(`${JSON.stringify({ file, ...summary, ...(proof === undefined ? {} : { proof }) })}\n`);
        return;
      }
      console.log(`wrote ${file}`);
      console.log(`${digest.streamCount} streams, log head ${digest.logHead.position} (${digest.logHead.events} events)`);
      console.log(`root ${digest.root}, key ${digest.keyId}`);
      if (proof !== undefined) console.log(`proof of ${options.prove}: ${JSON.stringify(proof)}`);
    } finally {
      await store.close();
    }
  });

/** An instant given on the command line: ISO 8601 with an offset, as UTC with milliseconds. */
const instantArg = (value: string): string => {
  const t = DateTime.fromISO(value, { setZone: true });
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(value) || !t.isValid)
    throw new InvalidArgumentError('must be an ISO 8601 instant with an offset, such as 2026-06-29T13:30:00Z');
  return t.toUTC().toISO() ?? '';
};
const userArg = (value: string): string => {
  const id = value.startsWith('user:') ? value.slice('user:'.length) : value;
  if (!isValidId(id)) throw new InvalidArgumentError('must be a user id or user:{id}');
  return id;
};

/** Runs `body` with the environment's store, closing it after. */
const withStore = async (body: (store: EventStore) => Promise<void>): Promise<void> => {
  const { store } = await environment();
  try {
    await body(store);
  } finally {
    await store.close();
  }
};

program
  .command('history')
  .description("an account's events with their log position, times and who caused them")
  .argument('<user>', 'user id (or user:{id})', userArg)
  .option('--from <instant>', 'only events that occurred at or after', instantArg)
  .option('--to <instant>', 'only events that occurred before', instantArg)
  .option('--json', 'machine-readable output')
  .action(async (user: string, options: { from?: string; to?: string; json?: boolean }) =>
    withStore(async (store) => {
      const entries: AuditEntry[] = [];
      for (let fromRevision: number | null = 0; fromRevision !== null;) {
        const page = await accountEntries(store, accountStream(user), {
          fromRevision,
          limit: 500,
          from: options.from,
          to: options.to,
        });
        entries.push(...page.entries);
        fromRevision = page.nextRevision;
      }
      print(options.json, entries, () => table(entries as unknown as Record<string, unknown>[], entryColumns));
    }),
  );

program
  .command('balance')
  .description("an account's balance as of an instant (default now), folded from its events")
  .argument('<user>', 'user id (or user:{id})', userArg)
  .option('--as-of <instant>', 'ISO 8601 instant with an offset', instantArg)
  .option('--json', 'machine-readable output')
  .action(async (user: string, options: { asOf?: string; json?: boolean }) =>
    withStore(async (store) => {
      const now = systemClock.now().toUTC().toISO() ?? '';
      const asOf = options.asOf ?? now;
      if (asOf > now) throw new UsageError(`--as-of ${asOf} is in the future`);
      const answer = await balanceAsOf(store, accountStream(user), asOf);
      print(options.json, { userId: user, asOf, ...answer }, () =>
        console.log(
          `${user} as of ${asOf}: ${answer.balance} credits (${answer.eventsFolded} events, last at ${answer.occurredAt ?? 'never'})`,
        ),
      );
    }),
  );

/** The trace commands scan the log (no index needed, always current), with a progress bar. */
const scanned = async (
  store: EventStore,
  json: boolean | undefined,
  run: (onProgress: (p: { position: number; eventsRead: number }) => void) => Promise<RecordedEvent[]>,
) => {
  const bar = await progressBar(store, json !== true, 'scanning');
  const events = await run(bar.update);
  bar.stop();
  return events;
};

program
  .command('boost')
  .description("a boost's activation and expiry: due and actual time, lateness, payer, target")
  .argument('<boostId>')
  .option('--json', 'machine-readable output')
  .action(async (boostId: string, options: { json?: boolean }) =>
    withStore(async (store) => {
      const events = await scanned(store, options.json, (onProgress) =>
        scanForKeys(store, [{ kind: 'boost', key: boostId }], { onProgress }),
      );
      const boost = boostLifecycleOf(boostId, events);
      if (boost === undefined) throw new UsageError(`no boost ${boostId} in the log`);
      print(options.json, boost, () => {
        const { events: entries, ...summary } = boost;
        table([summary], Object.keys(summary));
        table(entries as unknown as Record<string, unknown>[], entryColumns);
      });
    }),
  );

program
  .command('target')
  .description('who boosted a profile, gig or clan, when, how much, and whether still active')
  .argument('<targetType>', boostTargetTypes.join('|'))
  .argument('<targetId>')
  .option('--json', 'machine-readable output')
  .action(async (targetType: string, targetId: string, options: { json?: boolean }) =>
    withStore(async (store) => {
      if (!(boostTargetTypes as readonly string[]).includes(targetType))
        throw new UsageError(`targetType is one of ${boostTargetTypes.join(', ')}`);
      const events = await scanned(store, options.json, (onProgress) =>
        scanForKeys(store, [{ kind: 'target', key: targetKey(targetType, targetId) }], { onProgress }),
      );
      const boosts = [...new Set(events.map((e) => e.data.boostId as string))]
        .map((id) => boostLifecycleOf(id, events))
        .filter((b) => b !== undefined)
        .map(({ events: _events, ...b }) => b);
      print(options.json, boosts, () =>
        table(boosts, ['boostId', 'payer', 'amount', 'activatedAt', 'dueAt', 'expiredAt', 'active']),
      );
    }),
  );

program
  .command('trace')
  .description('everything one request (correlation id) caused, with the expiries and settlements that followed')
  .argument('<correlationId>')
  .option('--json', 'machine-readable output')
  .action(async (correlationId: string, options: { json?: boolean }) =>
    withStore(async (store) => {
      const events = await scanned(store, options.json, (onProgress) =>
        scanForKeys(store, [{ kind: 'correlation', key: correlationId }], { follow: true, onProgress }),
      );
      const entries = events.map(auditEntryOf);
      print(options.json, entries, () => table(entries as unknown as Record<string, unknown>[], entryColumns));
    }),
  );

program
  .command('transfer')
  .description("a gig payment's two legs, its settlement and how long it was in transit")
  .argument('<transferId>')
  .option('--json', 'machine-readable output')
  .action(async (transferId: string, options: { json?: boolean }) =>
    withStore(async (store) => {
      const events = await scanned(store, options.json, (onProgress) =>
        scanForKeys(store, [{ kind: 'transfer', key: transferId }], { onProgress }),
      );
      const transfer = transferTraceOf(transferId, events);
      if (transfer === undefined) throw new UsageError(`no gig payment ${transferId} in the log`);
      print(options.json, transfer, () => {
        const { events: entries, ...summary } = transfer;
        table([summary], Object.keys(summary));
        table(entries as unknown as Record<string, unknown>[], entryColumns);
      });
    }),
  );

program
  .command('export')
  .description("an account's history, or every event between two instants, as CSV or NDJSON")
  .option('--account <user>', 'one account (otherwise the whole log between --from and --to)', userArg)
  .option('--from <instant>', 'events that occurred at or after', instantArg)
  .option('--to <instant>', 'events that occurred before', instantArg)
  .option('--format <format>', 'csv or ndjson', 'ndjson')
  .option('--out <file>', 'write here instead of stdout')
  .action(async (options: { account?: string; from?: string; to?: string; format: string; out?: string }) =>
    withStore(async (store) => {
      if (options.format !== 'csv' && options.format !== 'ndjson') throw new UsageError('--format is csv or ndjson');
      const out: NodeJS.WritableStream =
        options.out === undefined ? process.stdout : createWriteStream(options.out, { flags: 'wx' });
      const write = async (line: string): Promise<void> => {
        if (!out.write(`${line}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      };
      const emit = (e: AuditEntry): Promise<void> =>
        write(options.format === 'csv' ? csvColumns.map((c) => csvCell(e[c])).join(',') : JSON.stringify(e));
      if (options.format === 'csv') await write(csvColumns.join(','));
      const inWindow = (occurredAt: string): boolean =>
        (options.from === undefined || occurredAt >= options.from) && (options.to === undefined || occurredAt < options.to);
      let exported = 0;
      const bar = await progressBar(store, options.out !== undefined, 'exporting');
      if (options.account !== undefined) {
        for (let fromRevision: number | null = 0; fromRevision !== null;) {
          const page = await accountEntries(store, accountStream(options.account), {
            fromRevision,
            limit: 500,
            from: options.from,
            to: options.to,
          });
          for (const e of page.entries) await emit(e);
          exported += page.entries.length;
          fromRevision = page.nextRevision;
        }
      } else {
        let eventsRead = 0;
        for (let after = -1; ;) {
          const page = await store.readAll({ after, maxCount: 1000 });
          if (page.length === 0) break;
          for (const event of page) {
            eventsRead += 1;
            if (!inWindow(occurredAtOf(event))) continue;
            await emit(auditEntryOf(event));
            exported += 1;
          }
          after = (page[page.length - 1] as RecordedEvent).position;
          bar.update({ position: after, eventsRead });
        }
      }
      bar.stop();
      if (out !== process.stdout) {
        await new Promise<void>((resolve, reject) => {
          out.once('error', reject);
          out.end(() => resolve());
        });
        console.error(`exported ${exported} events to ${options.out}`);
      }
    }),
  );

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(error.message);
    process.exitCode = 2;
  } else if (error instanceof BrokenLogError) {
    console.error(`${error.message}:`);
    for (const b of error.breaks) console.error(`BROKEN   ${describeBreak(b)}`);
    process.exitCode = 1;
  } else throw error;
}
