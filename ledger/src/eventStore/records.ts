import assert from 'node:assert/strict';
import { eventStoreRecordLimits, type JsonObject } from './eventStore.js';

/**
 * Checks a side record's key (and value, when writing) against the port's bounds, the same on every
 * engine, and returns the value's JSON text. A key or value out of bounds is a programmer error: the
 * caller decides what it keeps and must keep it within `eventStoreRecordLimits`.
 */
export function checkRecord(key: string): undefined;
export function checkRecord(key: string, value: JsonObject): string;
export function checkRecord(key: string, value?: JsonObject): string | undefined {
  assert.ok(key.length > 0 && key.length <= eventStoreRecordLimits.keyLengthMax, 'record key: 1 to keyLengthMax characters');
  if (value === undefined) return undefined;
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), 'a record value is a JSON object');
  const text = JSON.stringify(value);
  assert.ok(
    Buffer.byteLength(text, 'utf8') <= eventStoreRecordLimits.valueBytesMax,
    `record ${key}: value beyond valueBytesMax (${eventStoreRecordLimits.valueBytesMax} bytes)`,
  );
  return text;
}
