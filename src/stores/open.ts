/**
 * `openStore(url)`: one string (a CLI flag, `LLMO_STORE`) to a run store.
 * @module
 */
import * as z from 'zod';
import { StoreError } from '../errors.ts';
import { isLogger, type Logger } from '../logger.ts';
import { parseOptions } from '../runtime/options.ts';
import type { RunStore } from '../runtime/store.ts';
import { createMemoryStore } from './memory.ts';
import { createSqliteStore } from './sqlite/store.ts';
import { isPostgresUrl, postgresTarget, redactUrl, sqlitePath } from './url.ts';

/**
 * Schema of {@link OpenStoreOptions}.
 *
 * @example
 * ```ts
 * OpenStoreOptionsSchema.parse({ durability: 'power' });
 * ```
 */
export const OpenStoreOptionsSchema = z.strictObject({
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  nativeBinding: z.string().min(1).optional(),
  durability: z.enum(['process', 'power']).optional(),
});

/**
 * Options of {@link openStore}.
 *
 * @example
 * ```ts
 * const options: OpenStoreOptions = { logger: pino() };
 * ```
 */
export interface OpenStoreOptions {
  readonly logger?: Logger;
  /** SQLite only: a `better_sqlite3.node` built for the running Node. */
  readonly nativeBinding?: string;
  /** SQLite only: what an acknowledged write survives (see `createSqliteStore`). Default `process`. */
  readonly durability?: 'process' | 'power';
}

/** What `./postgres/index.ts` is expected to export (written separately; loaded only for postgres URLs). */
interface PostgresModule {
  createPostgresStore(options: { url: string; schema?: string; logger?: Logger }): RunStore | Promise<RunStore>;
}

function isPostgresModule(m: unknown): m is PostgresModule {
  return typeof m === 'object' && m !== null && 'createPostgresStore' in m && typeof m.createPostgresStore === 'function';
}


async function openPostgres(url: string, logger: Logger | undefined): Promise<RunStore> {
  // A variable specifier, resolved beside this file (.ts from the sources, .js once built).
  const specifier = new URL(`./postgres/index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
  let mod: unknown;
  try {
    mod = await import(specifier);
  } catch (e) {
    throw new StoreError('STORE_INVALID', `cannot open ${redactUrl(url)}: the PostgreSQL store could not be loaded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!isPostgresModule(mod)) throw new StoreError('STORE_INVALID', `cannot open ${redactUrl(url)}: the PostgreSQL store module has no createPostgresStore`);
  // `?schema=name` picks the SQL schema (the driver never sees it)
  return mod.createPostgresStore({ ...postgresTarget(url), ...(logger === undefined ? {} : { logger }) });
}

/**
 * Opens a run store from one string:
 * - `memory:` → the in-memory store;
 * - `postgres://…` / `postgresql://…` → the PostgreSQL store (loaded on demand); `?schema=name` picks its SQL schema (default `public`);
 * - a file path, `file:path`, `file:///abs/path`, `sqlite:path` or `sqlite:///abs/path` → the embedded SQLite store.
 *
 * Anything else rejects with `STORE_INVALID` naming the value (a URL's password redacted).
 *
 * @example
 * ```ts
 * const store = await openStore(process.env.LLMO_STORE ?? 'runs.db', { logger });
 * ```
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<RunStore> {
  const o = parseOptions(OpenStoreOptionsSchema, options, 'openStore options') as OpenStoreOptions;
  if (typeof url !== 'string' || url.trim() === '') throw new StoreError('STORE_INVALID', `expected a store URL or file path, got ${JSON.stringify(url)}`);
  if (url === 'memory:' || url === 'memory://') return createMemoryStore(o.logger === undefined ? {} : { logger: o.logger });
  if (isPostgresUrl(url)) return openPostgres(url, o.logger);
  const path = sqlitePath(url);
  if (path === undefined) {
    throw new StoreError('STORE_INVALID', `unknown store ${JSON.stringify(redactUrl(url))}: expected a file path, file:/sqlite: URL, memory: or postgres://`);
  }
  return createSqliteStore({
    path,
    ...(o.logger === undefined ? {} : { logger: o.logger }),
    ...(o.nativeBinding === undefined ? {} : { nativeBinding: o.nativeBinding }),
    ...(o.durability === undefined ? {} : { durability: o.durability }),
  });
}
