import assert from 'node:assert/strict';
import { accountEventOf } from '../accounts/accountEvent.js';
import type { AccountEvent } from '../accounts/events.js';
import type { Rejection } from '../accounts/rejections.js';
import type { JsonObject, RecordedEvent } from '../eventStore/eventStore.js';

/** An account event as committed, with its place in the stream and the log. */
export interface CommittedAccountEvent {
  readonly id: string;
  readonly event: AccountEvent;
  readonly metadata: JsonObject;
  readonly revision: number;
  readonly position: number;
}

export type CommandResult =
  | {
      readonly ok: true;
      readonly events: readonly CommittedAccountEvent[];
      readonly balance: number;
      /** The stream revision after the command. */
      readonly revision: number;
      /** True when this is a repeat of an already-committed command (nothing was appended now). */
      readonly replayed: boolean;
    }
  | { readonly ok: false; readonly rejection: Rejection };

/** A recorded event of an account stream as the command handler reports it (validated on the way). */
export const committedOf = (recorded: RecordedEvent): CommittedAccountEvent => {
  const account = accountEventOf(recorded);
  assert.ok(account !== undefined, `${recorded.stream} is not an account stream`);
  return {
    id: recorded.id,
    event: account.event,
    metadata: recorded.metadata,
    revision: recorded.revision,
    position: recorded.position,
  };
};
