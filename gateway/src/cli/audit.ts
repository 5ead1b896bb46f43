import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import type { KeyObject } from 'node:crypto';
import type { ChainBreak } from '../../../ledger/src/audit/chainWalk.js';
import { BrokenLogError, proveStream, verifyLog, type DigestFinding } from '../../../ledger/src/audit/digest.js';
import type { EventStore } from '../../../ledger/src/eventStore/eventStore.js';
import { openEventStore } from '../../../ledger/src/eventStore/openEventStore.js';
import { systemClock } from '../../../ledger/src/shared/clock.js';
import { loadAuditConfig, type AuditConfig } from '../auditConfig.js';
import { latestDigestFile, readDigestFile, takeDigest } from '../auditDigests.js';
import { ConfigError, loadStorageConfig } from '../config.js';

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

/** A progress bar over log positions, on stderr (stdout stays for the answer), only for a terminal. */
const progressBar = async (store: EventStore, enabled: boolean) => {
  if (!enabled || process.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined };
  const head = await store.headPosition();
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'verifying [{bar}] {percentage}% | {eventsRead} events',
    hideCursor: true,
  });
  bar.start(Math.max(head, 1), 0, { eventsRead: 0 });
  return {
    update: (p: { position: number; eventsRead: number }) => bar.update(p.position, { eventsRead: p.eventsRead }),
    stop: () => bar.stop(),
  };
};

const describeBreak = (b: ChainBreak): string => {
  const where = `${b.stream} at revision ${b.revision} (log position ${b.position})`;
  switch (b.kind) {
    case 'revision_gap':
      return `${where}: expected revision ${b.expectedRevision} next, found ${b.foundRevision} (an event is missing or out of order)`;
    case 'prev_hash_mismatch':
      return `${where}: names predecessor ${b.foundHash}, expected ${b.expectedHash} (something before it was removed, inserted or reordered)`;
    case 'content_hash_mismatch':
      return `${where}: content hashes to ${b.expectedHash}, carries ${b.foundHash} (edited after it was written)`;
  }
};

const describeFinding = (f: DigestFinding): string => {
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
