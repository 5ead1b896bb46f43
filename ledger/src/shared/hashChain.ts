import { hash } from 'node:crypto';
import type { JsonObject } from '../eventStore/eventStore.js';
import { canonicalJson, canonicalObject } from './canonicalJson.js';

/** The predecessor hash of a stream's first event. */
export const genesisHash = '0'.repeat(64);

/** What of an event its hash covers. */
export interface HashedEvent {
  readonly stream: string;
  readonly revision: number;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}

/**
 * What an event's hash is taken over: the canonical JSON of
 * `{ stream, revision, type, data, metadata }` with `metadata` less its `hash`, built directly (keys
 * in canonical order: data, metadata, revision, stream, type) instead of through a copy of the
 * metadata and a five-key object per event; `verify` does this for every event of the log.
 */
export const eventHashInput = (input: HashedEvent): string =>
  `{"data":${canonicalObject(input.data)},"metadata":${canonicalObject(input.metadata, 'hash')},"revision":${canonicalJson(input.revision)},"stream":${JSON.stringify(input.stream)},"type":${JSON.stringify(input.type)}}`;

/**
 * Tamper evidence: each event's hash covers its stream, revision, type, data and metadata (without
 * the hash itself, but with `prevHash`), so changing, dropping, reordering or inserting any event
 * breaks every hash after it. Computed by the ledger, not the engine, so it holds on every engine.
 */
export const eventHash = (input: HashedEvent): string =>
  // One-shot hash (Node ≥ 20.12): no Hash object per event.
  hash('sha256', eventHashInput(input), 'hex');
