import assert from 'node:assert/strict';
import type { JsonValue } from '../eventStore/eventStore.js';

/** Keys seen so far, already quoted: event data and metadata use a few dozen names over and over. */
const quotedKeys = new Map<string, string>();
const quotedKeysMax = 4096;

const quote = (key: string): string => {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (quotedKeys.size < quotedKeysMax) quotedKeys.set(key, quoted);
  }
  return quoted;
};

/**
 * A canonical JSON encoding: object keys sorted by code unit, no whitespace, numbers as JSON prints
 * them (the ledger only stores safe integers and finite decimals). Two equal values always encode
 * to the same string, whatever the engine did to key order on the way through, which is what makes
 * the hash chain verifiable on every engine.
 *
 * Every command hashes its events with it, so it is written for speed: one string built in place,
 * keys quoted once per process, and a key list sorted only when it is not in order already.
 */
export const canonicalJson = (value: JsonValue): string => {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), 'canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i] as JsonValue);
    return `${out}]`;
  }
  const keys = Object.keys(value);
  for (let i = 1; i < keys.length; i++) {
    // Default sort order is UTF-16 code unit order, which is also what `>` compares.
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      keys.sort();
      break;
    }
  }
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = value[key];
    if (item === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${quote(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
};
