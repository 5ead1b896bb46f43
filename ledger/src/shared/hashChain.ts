import { hash } from 'node:crypto';
import type { JsonObject } from '../eventStore/eventStore.js';
import { canonicalJson } from './canonicalJson.js';

/** The predecessor hash of a stream's first event. */
export const genesisHash = '0'.repeat(64);

/**
 * Tamper evidence: each event's hash covers its stream, revision, type, data and metadata (without
 * the hash itself, but with `prevHash`), so changing, dropping, reordering or inserting any event
 * breaks every hash after it. Computed by the ledger, not the engine, so it holds on every engine.
 */
export const eventHash = (input: {
  readonly stream: string;
  readonly revision: number;
  readonly type: string;
  readonly data: JsonObject;
  readonly metadata: JsonObject;
}): string => {
  const { hash: _ignored, ...metadataWithoutHash } = input.metadata;
  // One-shot hash (Node ≥ 20.12): no Hash object per event.
  return hash(
    'sha256',
    canonicalJson({
      stream: input.stream,
      revision: input.revision,
      type: input.type,
      data: input.data,
      metadata: metadataWithoutHash,
    }),
    'hex',
  );
};
