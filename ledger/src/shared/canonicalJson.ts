import assert from 'node:assert/strict';
import type { JsonObject, JsonValue } from '../eventStore/eventStore.js';

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
 * Every command hashes its events with it, and `verify` hashes every event of the log, so it is
 * written for speed: one string built in place, keys quoted once per process, a key list sorted only
 * when it is not in order already, and finite numbers printed with `String` (what JSON.stringify
 * prints for them, without its generic path).
 */
export const canonicalJson = (value: JsonValue): string => {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) assert.fail('canonical JSON has no NaN or Infinity');
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i] as JsonValue);
    return `${out}]`;
  }
  return canonicalObject(value);
};

/** Objects with more keys than this are sorted by Array#sort (insertion sort is quadratic). */
const insertionSortKeysMax = 32;

/**
 * The canonical JSON of an object, leaving out the key `without` if given: what `canonicalJson` of a
 * copy without that key gives, without making the copy (the hash chain encodes metadata without its
 * `hash` once per event).
 */
export const canonicalObject = (value: JsonObject, without?: string): string => {
  const keys = Object.keys(value);
  // Insertion sort, in UTF-16 code unit order (what `>` compares, and Array#sort's default order):
  // no work for keys already in order, and for the ten-odd keys of an event faster than Array#sort.
  if (keys.length > insertionSortKeysMax) keys.sort();
  else
    for (let i = 1; i < keys.length; i++) {
      const key = keys[i] as string;
      let j = i - 1;
      if ((keys[j] as string) <= key) continue;
      for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
      keys[j + 1] = key;
    }
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === without) continue;
    const item = value[key];
    if (item === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${quote(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
};
