import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { accountStream } from '../accounts/events.js';
import { AccountCommandHandler } from '../commandHandling/accountCommandHandler.js';
import type { JsonObject } from '../eventStore/eventStore.js';
import { SqliteEventStore } from '../eventStore/sqlite/sqliteEventStore.js';
import { eventHash, genesisHash } from '../shared/hashChain.js';
import { removeTempDirs, tempDbFile } from '../testing/tempDir.js';
import { appendThreeAccounts, auditNow as now } from '../testing/threeAccounts.js';
import { checkDigest, createDigest, proveStream, verifyLog, verifyStreamProof, type AuditDigest } from './digest.js';

const { privateKey } = generateKeyPairSync('ed25519');
const stores: SqliteEventStore[] = [];
const open = (path: string): SqliteEventStore => {
  const store = new SqliteEventStore({ path });
  stores.push(store);
  return store;
};
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  removeTempDirs();
});

/** Three accounts (a, b, c) of five events each, interleaved in the log; the store closed. */
const seededLog = async (): Promise<string> => {
  const path = tempDbFile();
  const store = open(path);
  await appendThreeAccounts(new AccountCommandHandler(store));
  await store.close();
  return path;
};

const digestOf = async (path: string): Promise<AuditDigest> => {
  const store = open(path);
  const digest = await createDigest(store, privateKey, now.toISO() ?? '');
  await store.close();
  // As it would be read back from its file.
  const checked = checkDigest(JSON.parse(JSON.stringify(digest)), privateKey);
  expect(checked).toMatchObject({ ok: true });
  return digest;
};

/** Opens the store's file directly, as someone with write access to it would. */
const tamper = (path: string, change: (db: Database.Database) => void): void => {
  const db = new Database(path);
  change(db);
  db.close();
};

interface Row {
  position: number;
  revision: number;
  type: string;
  data: string;
  metadata: string;
}
const rowOf = (db: Database.Database, stream: string, revision: number): Row =>
  db
    .prepare('SELECT position, revision, type, data, metadata FROM events WHERE stream = ? AND revision = ?')
    .get(stream, revision) as Row;
const hashOf = (row: Row): string => (JSON.parse(row.metadata) as { hash: string }).hash;

const verifyFile = async (path: string, digest?: AuditDigest) => {
  const store = open(path);
  const report = await verifyLog(store, digest === undefined ? {} : { digest });
  await store.close();
  return report;
};

describe('audit verify on the embedded store', () => {
  it('passes an untouched log, with and without its digest', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    expect(digest.logHead.events).toBe(15);
    expect(digest.streams.map((s) => [s.stream, s.revision])).toEqual([
      ['account-a', 4],
      ['account-b', 4],
      ['account-c', 4],
    ]);
    expect(await verifyFile(path)).toMatchObject({ ok: true, eventsRead: 15, streams: 3, breaks: [], findings: [] });
    expect(await verifyFile(path, digest)).toMatchObject({ ok: true, breaks: [], findings: [] });
  });

  it('names an event edited in place: its stream, revision, and the hash its content has against the one it carries', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    let edited!: Row;
    tamper(path, (db) => {
      edited = rowOf(db, accountStream('b'), 2);
      db.prepare("UPDATE events SET data = json_set(data, '$.amount', 1) WHERE position = ?").run(edited.position);
    });
    const data = JSON.parse(edited.data) as JsonObject;
    const report = await verifyFile(path, digest);
    expect(report.ok).toBe(false);
    expect(report.breaks).toEqual([
      {
        kind: 'content_hash_mismatch',
        stream: 'account-b',
        revision: 2,
        position: edited.position,
        expectedHash: eventHash({
          stream: 'account-b',
          revision: 2,
          type: edited.type,
          data: { ...data, amount: 1 },
          metadata: JSON.parse(edited.metadata) as JsonObject,
        }),
        foundHash: hashOf(edited),
      },
    ]);
    // The head of b still carries its hash: the chain alone names the edit.
    expect(report.findings).toEqual([]);
  });

  it('names an event deleted from the middle of a stream', async () => {
    const path = await seededLog();
    let deleted!: Row;
    let next!: Row;
    tamper(path, (db) => {
      deleted = rowOf(db, accountStream('a'), 2);
      next = rowOf(db, accountStream('a'), 3);
      db.prepare('DELETE FROM events WHERE position = ?').run(deleted.position);
    });
    const report = await verifyFile(path);
    expect(report.breaks).toEqual([
      { kind: 'revision_gap', stream: 'account-a', revision: 3, position: next.position, expectedRevision: 2, foundRevision: 3 },
    ]);
  });

  it('names two events swapped within a stream (revisions kept, so only the chain shows it)', async () => {
    const path = await seededLog();
    let first!: Row;
    let second!: Row;
    tamper(path, (db) => {
      first = rowOf(db, accountStream('c'), 1);
      second = rowOf(db, accountStream('c'), 2);
      const move = db.prepare('UPDATE events SET type = ?, data = ?, metadata = ? WHERE position = ?');
      db.transaction(() => {
        move.run(second.type, second.data, second.metadata, first.position);
        move.run(first.type, first.data, first.metadata, second.position);
      })();
    });
    const report = await verifyFile(path);
    const before = await (async () => {
      let row!: Row;
      tamper(path, (db) => (row = rowOf(db, accountStream('c'), 0)));
      return row;
    })();
    expect(report.breaks).toEqual([
      {
        kind: 'prev_hash_mismatch',
        stream: 'account-c',
        revision: 1,
        position: first.position,
        expectedHash: hashOf(before),
        foundHash: hashOf(first),
      },
    ]);
  });

  it('cannot see events cut from the end of a stream by the chain alone; the digest names the stream and how much is gone', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    tamper(path, (db) => {
      db.prepare('DELETE FROM events WHERE stream = ? AND revision >= 3').run(accountStream('a'));
      db.prepare('DELETE FROM events WHERE stream = ?').run(accountStream('b'));
    });
    const plain = await verifyFile(path);
    expect(plain).toMatchObject({ ok: true, breaks: [] });
    const report = await verifyFile(path, digest);
    expect(report.ok).toBe(false);
    expect(report.breaks).toEqual([]);
    expect(report.findings).toEqual([
      { kind: 'truncated', stream: 'account-a', expectedRevision: 4, foundRevision: 2 },
      { kind: 'truncated', stream: 'account-b', expectedRevision: 4, foundRevision: -1 },
    ]);
  });

  it('names a log cut at its end (the last events of the log deleted)', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    tamper(path, (db) => db.prepare('DELETE FROM events WHERE position = ?').run(digest.logHead.position));
    const report = await verifyFile(path, digest);
    expect(report.findings).toEqual([
      { kind: 'truncated', stream: 'account-c', expectedRevision: 4, foundRevision: 3 },
      { kind: 'log_truncated', expectedPosition: digest.logHead.position, foundPosition: digest.logHead.position - 1 },
    ]);
  });

  it('catches a forged purchase whose whole chain was recomputed: the chain holds, the signed digest does not', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    let originalHead!: Row;
    let forgedHead = '';
    tamper(path, (db) => {
      const stream = accountStream('a');
      originalHead = rowOf(db, stream, 4);
      let prevHash = genesisHash;
      const rewrite = db.prepare('UPDATE events SET data = ?, metadata = ? WHERE position = ?');
      for (let revision = 0; revision <= 4; revision++) {
        const row = rowOf(db, stream, revision);
        const data = JSON.parse(row.data) as JsonObject;
        // A billion credits instead of a thousand, balances after it carried along.
        if (revision === 0) data.amount = 1_000_000_000;
        data.balanceAfter = (data.balanceAfter as number) + 999_999_000;
        const { hash: _old, ...rest } = JSON.parse(row.metadata) as JsonObject;
        const metadata: JsonObject = { ...rest, prevHash };
        const hash = eventHash({ stream, revision, type: row.type, data, metadata });
        rewrite.run(JSON.stringify(data), JSON.stringify({ ...metadata, hash }), row.position);
        prevHash = hash;
      }
      forgedHead = prevHash;
    });
    expect(await verifyFile(path)).toMatchObject({ ok: true, breaks: [] });
    // The forgery is good enough for the ledger itself: the account loads with the forged balance.
    const store = open(path);
    expect((await new AccountCommandHandler(store).read('a')).balance).toBe(1_000_000_000 - 40);
    await store.close();
    const report = await verifyFile(path, digest);
    expect(report.ok).toBe(false);
    expect(report.findings).toEqual([
      { kind: 'rewritten', stream: 'account-a', revision: 4, expectedHash: hashOf(originalHead), foundHash: forgedHead },
    ]);
  });

  it('names events slipped into the log before the digest head that the digest does not account for', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    let moved!: Row;
    tamper(path, (db) => {
      // A new stream's first event written under a position freed before the digest head.
      moved = rowOf(db, accountStream('c'), 0);
      db.prepare('UPDATE events SET stream = ? WHERE position = ?').run('account-z', moved.position);
    });
    const report = await verifyFile(path, digest);
    expect(report.findings).toEqual([{ kind: 'inserted', stream: 'account-z', revision: 0, position: moved.position }]);
    // The chains say the same from their side: c lost its first event, z's event was hashed for another stream.
    expect(report.breaks.map((b) => [b.kind, b.stream, b.revision])).toEqual([
      ['content_hash_mismatch', 'account-z', 0],
      ['revision_gap', 'account-c', 1],
    ]);
  });
});

describe('audit digest', () => {
  it('refuses a digest signed by another key, an edited digest and a malformed one', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    const other = generateKeyPairSync('ed25519').privateKey;
    const store = open(path);
    const foreign = await createDigest(store, other, now.toISO() ?? '');
    await store.close();
    expect(checkDigest(foreign, privateKey)).toMatchObject({ ok: false, problem: expect.stringContaining('another key') });
    // Re-labelled with the trusted key's id, the signature still does not check.
    expect(checkDigest({ ...foreign, keyId: digest.keyId }, privateKey)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('bad signature'),
    });
    const editedHead = { ...digest, streams: digest.streams.map((s, i) => (i === 0 ? { ...s, revision: 2 } : s)) };
    expect(checkDigest(editedHead, privateKey)).toMatchObject({ ok: false, problem: expect.stringContaining('signed root') });
    expect(checkDigest({ ...digest, logHead: { position: 3, events: 4 } }, privateKey)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('bad signature'),
    });
    expect(checkDigest({ ...digest, root: undefined }, privateKey)).toMatchObject({ ok: false });
    expect(checkDigest('nope', privateKey)).toMatchObject({ ok: false });
  });

  it('refuses to sign a broken log', async () => {
    const path = await seededLog();
    tamper(path, (db) =>
      db.prepare("UPDATE events SET data = json_set(data, '$.amount', 2) WHERE stream = 'account-a' AND revision = 1").run(),
    );
    const store = open(path);
    await expect(createDigest(store, privateKey, now.toISO() ?? '')).rejects.toMatchObject({
      name: 'BrokenLogError',
      breaks: [expect.objectContaining({ stream: 'account-a', revision: 1, kind: 'content_hash_mismatch' })],
    });
  });

  it('proves one account against the root without the others', async () => {
    const path = await seededLog();
    const digest = await digestOf(path);
    const proof = proveStream(digest, 'account-b');
    expect(proof).toBeDefined();
    expect(verifyStreamProof(proof!)).toBe(true);
    expect(verifyStreamProof({ ...proof!, head: { ...proof!.head, revision: 3 } })).toBe(false);
    expect(proveStream(digest, 'account-nobody')).toBeUndefined();
  });
});
