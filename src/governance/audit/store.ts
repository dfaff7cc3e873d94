/**
 * The audit log in the run store's database: `openAuditStore(url)` takes the same URLs as
 * `openStore` and gives a sink writing each record as a row of `llmo_audit` (stream, seq, the
 * record's canonical JSON, its hash; primary key (stream, seq), so a second writer on a chain is
 * refused, never interleaved), plus `read()` for `verifyAudit` and `heads()` for a writer that
 * continues the chains (`createAuditLog({ sink: store, heads: await store.heads() })`). The table
 * is created by a versioned migration on open (`llmo_audit_schema`), beside the run store's own.
 * @module
 */
import * as z from 'zod';
import { StoreError } from '../../errors.ts';
import { parseOptions } from '../../runtime/options.ts';
import { auditHeads, type AuditRecord } from './record.ts';
import { createMemoryAuditSink } from './sinks.ts';
import { createSqliteAuditStore } from './store-sqlite.ts';
import type { AuditStore } from './types.ts';

export type { AuditStore } from './types.ts';
import { isPostgresUrl, postgresTarget, redactUrl, sqlitePath } from '../../stores/url.ts';

/**
 * zod schema of {@link OpenAuditStoreOptions}.
 *
 * @example
 * ```ts
 * OpenAuditStoreOptionsSchema.parse({ busyTimeoutMs: 2000 });
 * ```
 */
export const OpenAuditStoreOptionsSchema = z.strictObject({
  /** SQLite only: a `better_sqlite3.node` built for the running Node. */
  nativeBinding: z.string().min(1).optional(),
  /** SQLite only: how long a write waits for another process's lock (default 5000 ms). */
  busyTimeoutMs: z.number().int().nonnegative().optional(),
});

/**
 * Options of {@link openAuditStore}.
 *
 * @example
 * ```ts
 * const options: OpenAuditStoreOptions = { busyTimeoutMs: 2000 };
 * ```
 */
export type OpenAuditStoreOptions = Readonly<z.input<typeof OpenAuditStoreOptionsSchema>>;

/** What `./store-postgres.ts` exports (loaded only for postgres URLs, like the run store's). */
interface PostgresAuditModule {
  createPostgresAuditStore(options: { url: string; schema?: string }): Promise<AuditStore>;
}

const isPostgresModule = (m: unknown): m is PostgresAuditModule =>
  typeof m === 'object' && m !== null && 'createPostgresAuditStore' in m && typeof m.createPostgresAuditStore === 'function';


/** `memory:`: the records in this process (tests, a dry run). */
function memoryAuditStore(): AuditStore {
  const sink = createMemoryAuditSink();
  const sorted = (stream: string | undefined): AuditRecord[] =>
    sink.records.filter((r) => stream === undefined || r.stream === stream).sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.seq - b.seq));
  return {
    write: (records) => sink.write(records),
    read: async (stream) => sorted(stream),
    heads: async () => auditHeads(sink.records),
    close: async () => undefined,
  };
}

/**
 * Opens the audit table of a run store's database, creating or migrating it:
 * - a file path, `file:path`, `file:///abs/path`, `sqlite:path` or `sqlite:///abs/path` → the SQLite file (shared with the run store);
 * - `postgres://…` / `postgresql://…` → PostgreSQL (`?schema=name` picks the SQL schema, default `public`);
 * - `memory:` → records kept in this process.
 *
 * Rejects with `STORE_INVALID` for anything else, `STORE_CORRUPT` for a SQLite file of another
 * application, `STORE_TOO_NEW` when the table's schema is newer than this build, `STORE_UNAVAILABLE`
 * when the server cannot be reached. Writes that fail reject with `AUDIT_STORE_FAILED` (the log
 * keeps the records queued and reports it in its health).
 *
 * @example
 * ```ts
 * const store = await openAuditStore('postgres://llmo:llmo@db/llmo');
 * const log = createAuditLog({ sink: store, heads: await store.heads() });
 * auditEvents(engine.events$, log);
 * ```
 */
export async function openAuditStore(url: string, options: OpenAuditStoreOptions = {}): Promise<AuditStore> {
  const o = parseOptions(OpenAuditStoreOptionsSchema, options, 'openAuditStore options');
  if (typeof url !== 'string' || url.trim() === '') throw new StoreError('STORE_INVALID', `expected a store URL or file path, got ${JSON.stringify(url)}`);
  if (url === 'memory:' || url === 'memory://') return memoryAuditStore();
  if (isPostgresUrl(url)) {
    // a variable specifier beside this file (.ts from the sources, .js once built): pg stays out of bundles that never use it
    const specifier = new URL(`./store-postgres${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    let mod: unknown;
    try {
      mod = await import(specifier);
    } catch (e) {
      throw new StoreError('STORE_INVALID', `cannot open ${redactUrl(url)}: the PostgreSQL audit store could not be loaded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!isPostgresModule(mod)) throw new StoreError('STORE_INVALID', `cannot open ${redactUrl(url)}: the PostgreSQL audit store module has no createPostgresAuditStore`);
    return mod.createPostgresAuditStore(postgresTarget(url));
  }
  const path = sqlitePath(url);
  if (path === undefined) throw new StoreError('STORE_INVALID', `unknown store ${JSON.stringify(redactUrl(url))}: expected a file path, file:/sqlite: URL, memory: or postgres://`);
  return createSqliteAuditStore({
    path,
    ...(o.nativeBinding === undefined ? {} : { nativeBinding: o.nativeBinding }),
    ...(o.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: o.busyTimeoutMs }),
  });
}
