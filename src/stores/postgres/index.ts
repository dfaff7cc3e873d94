/**
 * The PostgreSQL run store (`postgres://` URLs): many processes and workers sharing
 * one server. `openStore()` imports this lazily, so `pg` loads only when used.
 *
 * @example
 * ```ts
 * import { createPostgresStore } from './stores/postgres/index.ts';
 * const store = await createPostgresStore({ url: 'postgres://llmo:llmo@127.0.0.1:55432/llmo' });
 * ```
 * @module
 */
export { createPostgresStore, PostgresStoreOptionsSchema, type PostgresStoreOptions } from './store.ts';
export { redactUrl } from '../url.ts';
export { MIGRATIONS, SCHEMA_VERSION, migrate, type Migration } from './migrations.ts';
export { toStoreError, isConnectionFailure } from './errors.ts';
