/**
 * The embedded SQLite run store.
 * @module
 */
export { createSqliteStore, SqliteStoreOptionsSchema, type SqliteStoreOptions } from './store.ts';
export { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from './schema.ts';
