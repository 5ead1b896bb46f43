import assert from 'node:assert/strict';
import type { RecordedEvent } from '../eventStore/eventStore.js';
import { accountStreamPrefix, validateAccountEvent, type AccountEvent } from './events.js';

/** An account event read from the log: whose account it is, and the event, validated and typed. */
export interface DecodedAccountEvent {
  /** The account owner: the user whose stream (`account-{userId}`) holds the event. */
  readonly userId: string;
  readonly event: AccountEvent;
}

/**
 * Each recorded event object is validated once: readers that share a read (a rebuild feeding several
 * builders) get the first validation's result. Recorded events are never mutated.
 */
const decoded = new WeakMap<RecordedEvent, DecodedAccountEvent>();

/**
 * The one decoder of the log for everything that reads it (the command handler, the subscribers, the
 * gateway's history). Undefined for an event of another stream; an event on an account stream that
 * fails its schema is a corrupt log, and the reader crashes (the read half of the pair assertion:
 * events are validated before they are appended and again here).
 */
export const accountEventOf = (recorded: RecordedEvent): DecodedAccountEvent | undefined => {
  if (!recorded.stream.startsWith(accountStreamPrefix)) return undefined;
  const known = decoded.get(recorded);
  if (known !== undefined) return known;
  const checked = validateAccountEvent(recorded.type, recorded.data);
  assert.ok(
    checked.ok,
    `corrupt event ${recorded.id} in ${recorded.stream}@${recorded.revision}: ${checked.ok ? '' : checked.problem}`,
  );
  const account = { userId: recorded.stream.slice(accountStreamPrefix.length), event: checked.event };
  decoded.set(recorded, account);
  return account;
};
