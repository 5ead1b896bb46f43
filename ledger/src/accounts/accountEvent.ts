import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventStore/eventStore.js';
import { accountStreamPrefix, isAccountStream, validateAccountEvent, type AccountEvent } from './events.js';

/** An account event read from the log: whose account it is, and the event, validated and typed. */
export interface DecodedAccountEvent {
  /** The account owner: the user whose stream (`account-{userId}`) holds the event. */
  readonly userId: string;
  readonly event: AccountEvent;
}

/**
 * Each recorded event object is validated once: readers that share a read (a rebuild feeding several
 * builders, the workers' shared log reader) get the first validation's result. It is kept on the
 * recorded event itself, under a symbol, as a non-enumerable property: invisible to spreads, JSON,
 * structured clones and equality checks, and it dies with the event. A WeakMap keyed by the events
 * did the same and cost 2–3 × the validation itself (measured: 200,000 events read and decoded in
 * 1.0–1.6 s against 0.7 s): every young-generation collection walks its ephemerons, and a rebuild
 * makes millions of them. An event object that cannot take the property (frozen) is validated on
 * every call. Recorded events are otherwise never mutated.
 */
const decodedKey = Symbol('accountEventOf');
type Decodable = RecordedEvent & { [decodedKey]?: DecodedAccountEvent };

/**
 * The one decoder of the log for everything that reads it (the command handler, the subscribers, the
 * gateway's history). Undefined for an event of another stream; an event on an account stream that
 * fails its schema is a corrupt log, and the reader crashes (the read half of the pair assertion:
 * events are validated before they are appended and again here).
 */
export const accountEventOf = (recorded: RecordedEvent): DecodedAccountEvent | undefined => {
  if (!isAccountStream(recorded.stream)) return undefined;
  const known = (recorded as Decodable)[decodedKey];
  if (known !== undefined) return known;
  const checked = validateAccountEvent(recorded.type, recorded.data);
  assert.ok(
    checked.ok,
    `corrupt event ${recorded.id} in ${recorded.stream}@${recorded.revision}: ${checked.ok ? '' : checked.problem}`,
  );
  const account = { userId: recorded.stream.slice(accountStreamPrefix.length), event: checked.event };
  if (Object.isExtensible(recorded)) Object.defineProperty(recorded, decodedKey, { value: account });
  return account;
};
