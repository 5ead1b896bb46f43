/** Test helpers the other components' tests and the bench use (not part of the running system). */
export { appendBulkPurchases, appendChainedPurchases } from './bulk.js';
export { logBatches, readWholeLog } from './log.js';
export { removeTempDirs, tempDbFile, tempDir } from './tempDir.js';
