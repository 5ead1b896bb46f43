/**
 * The ledger's public surface: what the other components (projections, gateway, bench) may use.
 * They import this module, never a file under ledger/src/ by path; test helpers are in
 * ./testing/index.ts.
 */

// The account domain: events, commands, limits, rejections, postings.
export { accountEventOf, type DecodedAccountEvent } from './accounts/accountEvent.js';
export type { AccountCommand, AccountCommandType } from './accounts/commands.js';
export {
  accountEventTypes,
  accountStream,
  accountStreamPrefix,
  isAccountStream,
  boostTargetTypes,
  clanAccount,
  eventDataSchemas,
  isValidId,
  isValidText,
  platformAccounts,
  spendTargetTypes,
  userAccount,
  type AccountEvent,
  type AccountEventOf,
  type AccountEventType,
  type BoostTargetType,
  type SpendTargetType,
} from './accounts/events.js';
export { accountLimits } from './accounts/limits.js';
export { addCredits, postingsOf, type Posting } from './accounts/postings.js';
export { rejectionCodes, type Rejection, type RejectionCode } from './accounts/rejections.js';
export type { AccountState } from './accounts/state.js';

// Command handling: load → decide → append.
export { AccountCommandHandler, commandHandlerLimits } from './commandHandling/accountCommandHandler.js';
export { closeAfterSnapshots } from './commandHandling/closeAfterSnapshots.js';
export type { CommandContext, IdempotencyCheck, IdempotencyKey } from './commandHandling/commandContext.js';
export type { CommandResult, CommittedAccountEvent } from './commandHandling/commandResult.js';
export { ConcurrencyRetriesExhaustedError } from './commandHandling/retryOnConflict.js';

// The event store port, its errors and adapters.
export {
  EventIdConflictError,
  EventStoreUnavailableError,
  isEventStoreError,
  StreamRevisionConflictError,
  type EventStoreError,
} from './eventStore/errors.js';
export type {
  AppendResult,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  JsonObject,
  JsonPrimitive,
  JsonValue,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamRevision,
  SubscribeToAllOptions,
} from './eventStore/eventStore.js';
export { readEventsMax } from './eventStore/eventStore.js';
export { openEventStore } from './eventStore/openEventStore.js';
export {
  openEventsDatabase,
  SqliteEventStore,
  sqliteEventStoreLimits,
  type SqliteEventStoreOptions,
} from './eventStore/sqlite/sqliteEventStore.js';

// Shared: time and canonical JSON.
export { canonicalJson } from './shared/canonicalJson.js';
export { ManualClock, msPerHour, systemClock, type Clock } from './shared/clock.js';

// Audit: the hash chain, tamper evidence (chain walks, Merkle digests signed outside the store), and
// queries over the full history.
export { eventHash, genesisHash } from './shared/hashChain.js';
export * from './audit/accountAudit.js';
export * from './audit/balanceIndex.js';
export * from './audit/chainWalk.js';
export * from './audit/digest.js';
export * from './audit/merkle.js';
export * from './audit/signingKey.js';
export * from './audit/traces.js';
