import assert from 'node:assert/strict';
import type { JsonValue } from '../eventStore/eventStore.js';

/**
 * A canonical JSON encoding: object keys sorted by code unit, no whitespace, numbers as JSON prints
 * them (the ledger only stores safe integers and finite decimals). Two equal values always encode
 * to the same string, whatever the engine did to key order on the way through, which is what makes
 * the hash chain verifiable on every engine.
 */
export const canonicalJson = (value: JsonValue): string => {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    assert.ok(Number.isFinite(value), 'canonical JSON has no NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = value[key];
    if (item === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
};
