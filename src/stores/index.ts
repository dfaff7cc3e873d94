/**
 * Run stores: where durable runs live. `openStore(url)` picks one from a string;
 * the factories build one directly. The engine knows only the `RunStore` interface.
 * @module
 */
export { openStore, OpenStoreOptionsSchema, type OpenStoreOptions } from './open.ts';
export { createMemoryStore, MemoryStoreOptionsSchema, type MemoryStoreOptions } from './memory.ts';
export { createSqliteStore, SqliteStoreOptionsSchema, SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from './sqlite/index.ts';
export { createWriteQueue, WriteQueueOptionsSchema, type WriteQueue, type WriteQueueOptions } from './write-queue.ts';
export type {
  ClaimRequest, NewRun, RetentionRequest, RunQuery, RunRecord, RunStore, StoredEvent, StoredRunStatus,
} from '../runtime/store.ts';
export { StoreError, isStoreError, type StoreErrorCode } from '../errors.ts';
