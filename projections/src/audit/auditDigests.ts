import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import {
  checkDigest,
  createDigest,
  type AuditDigest,
  type DigestCheck,
  type EventStore,
  type Clock,
} from '../../../ledger/src/index.js';

/** The file name of a digest: its time and log head, so names sort by time and say what they cover. */
const digestFileName = (digest: AuditDigest): string =>
  `digest-${digest.createdAt.replace(/[:.]/g, '-')}-p${digest.logHead.position}.json`;

/** Writes a digest into `dir`, whole or not at all (a private name, then a rename). Returns its path. */
export const writeDigestFile = (dir: string, digest: AuditDigest): string => {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, digestFileName(digest));
  const draft = `${file}.${process.pid}.tmp`;
  writeFileSync(draft, `${JSON.stringify(digest, null, 2)}\n`, { flag: 'wx' });
  renameSync(draft, file);
  return file;
};

/** Takes a digest of the store now and writes it into `dir`. */
export const takeDigest = async (input: {
  readonly store: EventStore;
  readonly signingKey: KeyObject;
  readonly dir: string;
  readonly clock: Clock;
}): Promise<{ file: string; digest: AuditDigest }> => {
  const digest = await createDigest(input.store, input.signingKey, input.clock.now().toUTC().toISO() ?? '');
  return { file: writeDigestFile(input.dir, digest), digest };
};

/** Reads and checks a digest file against the trusted key. */
export const readDigestFile = (file: string, verifyKey: KeyObject): DigestCheck => {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    return { ok: false, problem: `cannot read ${file}: ${(error as Error).message}` };
  }
  return checkDigest(value, verifyKey);
};

/** The newest digest file in `dir` (names sort by time), if any. */
export const latestDigestFile = (dir: string): string | undefined => {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.startsWith('digest-') && name.endsWith('.json'));
  } catch {
    return undefined;
  }
  const last = names.sort().at(-1);
  return last === undefined ? undefined : join(dir, last);
};

/** What the digest schedule needs beyond the store: the key, where digests go, how often. */
export interface DigestSchedule {
  readonly signingKey: KeyObject;
  readonly dir: string;
  readonly everyMs: number;
}

/**
 * The workers' digest schedule: one digest every `everyMs`, never two at once; a failed one is
 * logged and the next is taken on time. Returns a stop function that waits for a digest in progress.
 */
export const startDigestSchedule = (
  input: DigestSchedule & {
    readonly store: EventStore;
    readonly clock: Clock;
    readonly log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  },
): (() => Promise<void>) => {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(run, input.everyMs);
    timer.unref();
  };
  const run = (): void => {
    running = takeDigest(input)
      .then(({ file, digest }) => input.log.info({ file, root: digest.root, logHead: digest.logHead }, 'audit digest written'))
      .catch((error: unknown) => input.log.error({ err: error }, 'audit digest failed'))
      .finally(() => {
        running = undefined;
        schedule();
      });
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
};
