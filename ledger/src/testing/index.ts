/** Test helpers the other components' tests and the bench use (not part of the running system). */
export { appendBulkPurchases, appendChainedPurchases } from './bulk.js';
export { closersAfterEach, until, type Closer } from './closers.js';
export { logBatches, readWholeLog } from './log.js';
export { removeTempDirs, tempDbFile, tempDir } from './tempDir.js';
// The EventStoreDB adapter over a stand-in client that answers as the server does (no server runs here).
export { EsdbEventStore } from '../eventStore/esdb/esdbEventStore.js';
export { esdbStandIn } from '../eventStore/esdb/esdbStandIn.js';
