/**
 * The public surface of projections: what the gateway, the bench and (later) the fan-out's consumer
 * kit use. Everything else under projections/src is internal and may move.
 */

// Configuration the engines need, shared by every entry point.
export { ConfigError, loadStorageConfig, parseEnv, storageConfigOf, storageEnvShape, type StorageConfig } from './config.js';

// Every projector and reactor on one runtime.
export {
  startProjections,
  startWorkers,
  type Projections,
  type RelaySubscriber,
  type StartProjectionsOptions,
} from './system.js';
export { Projector, projectorLimits } from './runtime/projector.js';
export {
  describeFailedEvent,
  lagBehind,
  type FailedEvent,
  type ProjectorLogger,
  type ProjectorStatus,
  type Subscriber,
  type BatchInFlight,
} from './runtime/subscriber.js';
export { SharedLogReader, sharedLogLimits, type SharedLogStats } from './runtime/sharedLog.js';

// The read-model store port, its adapters' entry points and errors.
export { openReadModelStore } from './readModels/openReadModelStore.js';
export { SqliteReadModelStore, sqliteReadModelStoreLimits } from './readModels/sqliteReadModelStore.js';
export type { CollectionSpec, Doc, Query, ReadModelStore, StoredDoc, Write } from './readModels/readModelStore.js';
export { ReadModelStoreUnavailableError, ReadModelVersionSwitchedError } from './readModels/errors.js';
export { foldOnce, type Positioned } from './readModels/foldOnce.js';

// Read models, reactors and rebuilds.
export { AccountBalancesProjection, type AccountBalance } from './balances/accountBalances.js';
export { ServiceReadModelsProjection } from './services/serviceReadModels.js';
export { ServiceReadModelQueries, type RankingCursor } from './services/serviceQueries.js';
export { BoostExpiryScheduler, type ExpiryOutcome } from './expiry/boostExpiryScheduler.js';
export { GigPaymentSettlement } from './settlement/gigPaymentSettlement.js';
export {
  isReadModelName,
  rebuild,
  rebuildableReadModels,
  RebuildInProgressError,
  rebuildLimits,
  rebuildTogether,
  type ReadModelName,
  type RebuildOptions,
  type RebuildProgress,
} from './rebuild/rebuild.js';

// The services' pure folds and documents (no store): the read models above, and the fan-out's consumers.
export {
  activeBoostsListedMax,
  emptyClanContributor,
  emptyClanReputation,
  emptyGigRanking,
  emptyUserVisibility,
  scores,
  topContributorsMax,
  type ActiveBoostRef,
  type ClanContributorDocument,
  type ClanReputation,
  type ClanReputationDocument,
  type GigRanking,
  type GigRankingDocument,
  type ServiceEvent,
  type TopContributor,
  type UserVisibility,
  type UserVisibilityDocument,
} from './services/documents.js';
export { evolveUserVisibility } from './services/userVisibility.js';
export { clanContributorCodec, clanReputationCodec, gigRankingCodec, userVisibilityCodec } from './services/documentCodecs.js';
export { sortKeyOf, sortKeyText, totalOf, totalText } from './readModels/totals.js';
export type { DocumentCodec } from './readModels/batchDocuments.js';
export { evolveGigRanking } from './services/gigRanking.js';
export { evolveClanContributor, evolveClanReputation, topContributorsOf } from './services/clanReputation.js';
export { activeBoostChangeOf, documentsTouchedBy, logsOf, type ActiveBoost, type Touched } from './services/changes.js';
export { boostTargets, spendTargets, type DocumentCollection, type EventLog } from './services/collections.js';

// The RabbitMQ fan-out: the seed's topology, the messages and their schemas, the relay.
export {
  creditEventsExchange,
  deadLetterExchangeOf,
  deadLetterQueueOf,
  deadLetterQueueArguments,
  ledgerEventsExchange,
  ledgerEventsRoutingKey,
  routingKeys,
  serviceQueueArguments,
  serviceQueues,
  supportsQuorumQueues,
  topology,
  topologyLimits,
  type QueueKind,
  type RoutingKey,
  type ServiceQueue,
} from './fanout/topology.js';
export {
  ledgerMessageSchema,
  messageAppId,
  messageJsonSchemas,
  messageOf,
  messageSchemas,
  messageSchemaVersion,
  messageTypes,
  outgoingMessageOf,
  type LedgerMessage,
  type LedgerMessageOf,
  type MessageType,
  type OutgoingMessage,
} from './fanout/messages.js';
export {
  FileRelayCheckpoint,
  relayCheckpointFile,
  relayCheckpointKey,
  relayCheckpointOf,
  type RelayCheckpoint,
} from './fanout/relayCheckpoint.js';
export { BrokerUnavailableError } from './fanout/rabbitmq/brokerConnection.js';
export {
  PublishNotConfirmedError,
  RabbitMqRelay,
  relayLimits,
  type RelayMetrics,
  type RelayOptions,
} from './fanout/rabbitmq/rabbitMqRelay.js';
export { declareTopology, declareTopologyOn, queueKindOf } from './fanout/rabbitmq/declareTopology.js';
export { AuditIndexProjection, auditIndexLimits, auditIndexName } from './audit/auditIndex.js';
export { auditDigestLimits, developmentSigningKeyFile, loadAuditConfig, type AuditConfig } from './audit/auditConfig.js';
export {
  latestDigestFile,
  readDigestFile,
  startDigestSchedule,
  takeDigest,
  writeDigestFile,
  type DigestSchedule,
} from './audit/auditDigests.js';

// The workers in a process of their own, and what the API reads of them from another.
export { loadWorkersConfig, type WorkersConfig } from './config.js';
export { openProjectionReads, type ProjectionReads, type ReportedStatus } from './projectionReads.js';
export {
  startWorkersProcess,
  workersEntry,
  workersProcessLimits,
  type WorkersCommand,
  type WorkersMessage,
  type WorkersProcess,
} from './workersProcess.js';
