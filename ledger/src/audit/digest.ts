import assert from 'node:assert/strict';
import { createHash, createPublicKey, sign, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { EventStore, RecordedEvent } from '../eventStore/eventStore.js';
import { canonicalJson } from '../shared/canonicalJson.js';
import { storedHash, walkChains, type ChainBreak, type ChainWalkOptions } from './chainWalk.js';
import { inclusionProof, leafHash, merkleRoot, verifyInclusion } from './merkle.js';

export const digestFormat = 'credit-ledger-audit-digest/1';

/** One stream's head as a digest records it: one Merkle leaf. */
export interface DigestStreamHead {
  readonly stream: string;
  readonly revision: number;
  readonly hash: string;
}

/** What the signature covers. The stream heads are covered through `root`. */
export interface SignedDigestBody {
  readonly format: typeof digestFormat;
  /** When the digest was taken (the injected clock). */
  readonly createdAt: string;
  /** The log's last event when the walk ended, and how many events the log held up to it. */
  readonly logHead: { readonly position: number; readonly events: number };
  readonly streamCount: number;
  /** Merkle root over the stream heads, sorted by stream name. */
  readonly root: string;
  /** sha256 of the signing key's public key (SPKI DER), so a reader knows which key to check it with. */
  readonly keyId: string;
}

export interface AuditDigest extends SignedDigestBody {
  /** Ed25519 signature (base64) over the canonical JSON of the body. */
  readonly signature: string;
  readonly streams: readonly DigestStreamHead[];
}

/** Raised when a digest cannot be taken because the log is already broken: signing it would bless the damage. */
export class BrokenLogError extends Error {
  override name = 'BrokenLogError';
  constructor(readonly breaks: readonly ChainBreak[]) {
    super(`the log is broken in ${breaks.length} stream(s); refusing to sign a digest of it (run verify)`);
  }
}

export const streamLeaf = (head: DigestStreamHead): string =>
  leafHash(canonicalJson({ stream: head.stream, revision: head.revision, hash: head.hash }));

export const keyIdOf = (key: KeyObject): string => {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
};

const signedBytes = (body: SignedDigestBody): Buffer =>
  Buffer.from(
    canonicalJson({
      format: body.format,
      createdAt: body.createdAt,
      logHead: { position: body.logHead.position, events: body.logHead.events },
      streamCount: body.streamCount,
      root: body.root,
      keyId: body.keyId,
    }),
  );

/**
 * Takes a digest: walks the whole log (checking every chain on the way), records each stream's head
 * and the log head, folds the heads into a Merkle root and signs it. Refuses a broken log.
 */
export const createDigest = async (
  store: EventStore,
  signingKey: KeyObject,
  createdAt: string,
  options: Pick<ChainWalkOptions, 'onProgress' | 'streamPrefix'> = {},
): Promise<AuditDigest> => {
  assert.equal(signingKey.asymmetricKeyType, 'ed25519', 'the audit signing key is an Ed25519 private key');
  assert.equal(signingKey.type, 'private', 'the audit signing key is a private key');
  const walk = await walkChains(store, options);
  if (walk.breaks.length > 0) throw new BrokenLogError(walk.breaks);
  const streams = [...walk.heads].map(([stream, head]) => ({ stream, revision: head.revision, hash: head.hash }));
  const body: SignedDigestBody = {
    format: digestFormat,
    createdAt,
    logHead: { position: walk.headPosition, events: walk.eventsRead },
    streamCount: streams.length,
    root: merkleRoot(streams.map(streamLeaf)),
    keyId: keyIdOf(signingKey),
  };
  return { ...body, signature: sign(null, signedBytes(body), signingKey).toString('base64'), streams };
};

export type DigestCheck = { readonly ok: true; readonly digest: AuditDigest } | { readonly ok: false; readonly problem: string };

const isHex64 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= -1;

/**
 * Reads a digest file's JSON and checks it against the trusted public key: its shape, its signature,
 * and that the stream heads it lists fold into the root it signed. Only a digest that passes says
 * anything about the log.
 */
export const checkDigest = (value: unknown, publicKey: KeyObject): DigestCheck => {
  if (typeof value !== 'object' || value === null) return { ok: false, problem: 'not a digest (not a JSON object)' };
  const d = value as Record<string, unknown>;
  if (d.format !== digestFormat) return { ok: false, problem: `not a digest (format is not ${digestFormat})` };
  const logHead = d.logHead as Record<string, unknown> | undefined;
  if (
    typeof d.createdAt !== 'string' ||
    typeof logHead !== 'object' ||
    logHead === null ||
    !isCount(logHead.position) ||
    !isCount(logHead.events) ||
    !isCount(d.streamCount) ||
    !isHex64(d.root) ||
    !isHex64(d.keyId) ||
    typeof d.signature !== 'string' ||
    !Array.isArray(d.streams)
  )
    return { ok: false, problem: 'malformed digest (a field is missing or has the wrong type)' };
  const streams: DigestStreamHead[] = [];
  for (const s of d.streams as unknown[]) {
    const head = s as Record<string, unknown>;
    if (
      typeof head !== 'object' ||
      head === null ||
      typeof head.stream !== 'string' ||
      !isCount(head.revision) ||
      !isHex64(head.hash)
    )
      return { ok: false, problem: 'malformed digest (a stream head is malformed)' };
    streams.push({ stream: head.stream, revision: head.revision, hash: head.hash });
  }
  const trusted = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  if (d.keyId !== keyIdOf(trusted))
    return { ok: false, problem: `digest signed by another key (key id ${d.keyId}, trusted key ${keyIdOf(trusted)})` };
  const body: SignedDigestBody = {
    format: digestFormat,
    createdAt: d.createdAt,
    logHead: { position: logHead.position, events: logHead.events },
    streamCount: d.streamCount,
    root: d.root,
    keyId: d.keyId,
  };
  if (!verifySignature(null, signedBytes(body), trusted, Buffer.from(d.signature, 'base64')))
    return { ok: false, problem: 'bad signature: the digest was altered or not signed by the trusted key' };
  if (streams.length !== body.streamCount || merkleRoot(streams.map(streamLeaf)) !== body.root)
    return { ok: false, problem: 'the stream heads listed do not fold into the signed root: the digest file was edited' };
  for (let i = 1; i < streams.length; i++)
    if ((streams[i - 1] as DigestStreamHead).stream >= (streams[i] as DigestStreamHead).stream)
      return { ok: false, problem: 'malformed digest (stream heads not sorted by stream)' };
  return { ok: true, digest: { ...body, signature: d.signature, streams } };
};

/** An inclusion proof: one stream's head proven against a digest's root without the other heads. */
export interface StreamInclusionProof {
  readonly head: DigestStreamHead;
  readonly index: number;
  readonly size: number;
  readonly proof: readonly string[];
  readonly root: string;
}

export const proveStream = (digest: AuditDigest, stream: string): StreamInclusionProof | undefined => {
  const index = digest.streams.findIndex((s) => s.stream === stream);
  if (index === -1) return undefined;
  const leaves = digest.streams.map(streamLeaf);
  return {
    head: digest.streams[index] as DigestStreamHead,
    index,
    size: leaves.length,
    proof: inclusionProof(leaves, index),
    root: digest.root,
  };
};

export const verifyStreamProof = (proof: StreamInclusionProof): boolean =>
  verifyInclusion({
    leafHash: streamLeaf(proof.head),
    index: proof.index,
    size: proof.size,
    proof: proof.proof,
    root: proof.root,
  });

/** What a digest shows was done to the log up to it. */
export type DigestFinding =
  | {
      /** The stream's event at the digest's revision now carries another hash: rewritten (with or without a recomputed chain). */
      readonly kind: 'rewritten';
      readonly stream: string;
      readonly revision: number;
      readonly expectedHash: string;
      readonly foundHash: string;
    }
  | {
      /** The stream now ends before the digest's revision: its last events were deleted. */
      readonly kind: 'truncated';
      readonly stream: string;
      readonly expectedRevision: number;
      /** The stream's last revision now, -1 when nothing of it is left. */
      readonly foundRevision: number;
    }
  | {
      /** An event the log holds before the digest's head that the digest does not account for. */
      readonly kind: 'inserted';
      readonly stream: string;
      readonly revision: number;
      readonly position: number;
    }
  | {
      /** The log ends before the digest's log head. */
      readonly kind: 'log_truncated';
      readonly expectedPosition: number;
      readonly foundPosition: number;
    };

export interface VerifyReport {
  readonly eventsRead: number;
  readonly streams: number;
  readonly headPosition: number;
  /** First broken link of each broken stream. */
  readonly breaks: readonly ChainBreak[];
  /** With a digest: what no longer matches it. */
  readonly findings: readonly DigestFinding[];
  readonly ok: boolean;
}

/**
 * verify: walks the log checking every chain; with a (checked) digest, also proves that everything up
 * to it is still there unchanged: each stream still reaches the digest's revision with the same
 * hash at it (which, the chain being intact, pins every event before it), no stream or event was
 * slipped in before the digest's log head, and the log still reaches that head.
 */
export const verifyLog = async (
  store: EventStore,
  options: {
    readonly digest?: AuditDigest;
    readonly onProgress?: ChainWalkOptions['onProgress'];
    readonly streamPrefix?: ChainWalkOptions['streamPrefix'];
  } = {},
): Promise<VerifyReport> => {
  const digest = options.digest;
  const expected = new Map<string, DigestStreamHead>();
  for (const head of digest?.streams ?? []) expected.set(head.stream, head);
  const foundAtRevision = new Map<string, string>();
  const findings: DigestFinding[] = [];
  const onEvent =
    digest === undefined
      ? undefined
      : (event: RecordedEvent): void => {
          const head = expected.get(event.stream);
          if (head !== undefined && event.revision === head.revision) {
            if (!foundAtRevision.has(event.stream)) foundAtRevision.set(event.stream, storedHash(event));
          } else if (event.position <= digest.logHead.position && (head === undefined || event.revision > head.revision))
            findings.push({ kind: 'inserted', stream: event.stream, revision: event.revision, position: event.position });
        };
  const walk = await walkChains(store, { onProgress: options.onProgress, streamPrefix: options.streamPrefix, onEvent });
  if (digest !== undefined) {
    for (const head of digest.streams) {
      const found = foundAtRevision.get(head.stream);
      if (found === undefined) {
        findings.push({
          kind: 'truncated',
          stream: head.stream,
          expectedRevision: head.revision,
          foundRevision: walk.heads.get(head.stream)?.revision ?? -1,
        });
      } else if (found !== head.hash)
        findings.push({
          kind: 'rewritten',
          stream: head.stream,
          revision: head.revision,
          expectedHash: head.hash,
          foundHash: found,
        });
    }
    if (walk.headPosition < digest.logHead.position)
      findings.push({ kind: 'log_truncated', expectedPosition: digest.logHead.position, foundPosition: walk.headPosition });
  }
  return {
    eventsRead: walk.eventsRead,
    streams: walk.heads.size,
    headPosition: walk.headPosition,
    breaks: walk.breaks,
    findings,
    ok: walk.breaks.length === 0 && findings.length === 0,
  };
};
