/**
 * The audit table in PostgreSQL (the run store's database and schema): a small pool, the
 * migration applied on open under a transaction-scoped advisory lock (processes that start
 * together create the table once), each `write` one multi-row INSERT.
 * @module
 */
import type pg from 'pg';
import { StoreError } from '../../errors.ts';
import { silentLogger, type Logger } from '../../logger.ts';
import { toStoreError } from '../../stores/postgres/errors.ts';
import { quoteIdent, runMigrations } from '../../stores/postgres/migrations.ts';
import { createPgPool } from '../../stores/postgres/pool.ts';
import { redactUrl } from '../../stores/url.ts';
import { canonicalJson } from './canonical.ts';
import type { AuditHeads } from './record.ts';
import { AUDIT_MIGRATIONS, AUDIT_SCHEMA_VERSION, auditStoreFailed, recordOfRow } from './store-rows.ts';
import type { AuditStore } from './types.ts';

/** Advisory lock class of the audit migration (`llau` in ASCII); the key is `hashtext(schema)`. */
const LOCK_CLASS = 0x6c6c6175;

/**
 * Options of {@link createPostgresAuditStore}.
 *
 * @example
 * ```ts
 * const o: PostgresAuditStoreOptions = { url: 'postgres://llmo:llmo@db/llmo', schema: 'tenant_a' };
 * ```
 */
export interface PostgresAuditStoreOptions {
  readonly url: string;
  /** The SQL schema (default `public`), created when missing. */
  readonly schema?: string;
  /** Where connection warnings go (default: nowhere). */
  readonly logger?: Logger;
}

async function migrate(pool: pg.Pool, schema: string, location: string): Promise<void> {
  let c: pg.PoolClient;
  try {
    c = await pool.connect();
  } catch (e) {
    throw toStoreError(e, 'open the audit table', location);
  }
  try {
    await runMigrations(c, {
      schema, table: 'llmo_audit_schema', lock: { class: LOCK_CLASS, key: schema },
      // the audit migrations take a table prefix (shared with SQLite, where it is empty)
      migrations: AUDIT_MIGRATIONS.map((m) => ({ version: m.version, up: (s: string) => m.up(`${s}.`) })),
      tooNew: (at) => new StoreError('STORE_TOO_NEW', `the audit table of ${location} has schema version ${at}, newer than this build's ${AUDIT_SCHEMA_VERSION}: upgrade llm-orchestrator`),
    });
  } catch (e) {
    throw toStoreError(e, 'migrate the audit table', location);
  } finally {
    c.release();
  }
}

/**
 * Opens (creating and migrating when needed) the audit table in a PostgreSQL schema. Rejects
 * with `STORE_UNAVAILABLE` when the server cannot be reached, `STORE_TOO_NEW` for a newer table.
 *
 * @example
 * ```ts
 * const store = await createPostgresAuditStore({ url: 'postgres://llmo:llmo@db/llmo' });
 * ```
 */
export async function createPostgresAuditStore(options: PostgresAuditStoreOptions): Promise<AuditStore> {
  const schema = options.schema ?? 'public';
  const s = quoteIdent(schema);
  const location = redactUrl(options.url);
  const log = (options.logger ?? silentLogger).child({ component: 'audit-store' });
  const pool = createPgPool({ url: options.url, max: 2, connectTimeoutMs: 5_000, queryTimeoutMs: 30_000, application: 'llmo-audit', jit: false, log, what: `audit store ${location}` });
  try {
    await migrate(pool, schema, location);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  let closed = false;
  const open = (): void => {
    if (closed) throw new StoreError('STORE_CLOSED', `the audit store of ${location} is closed`);
  };
  return {
    async write(records) {
      open();
      if (records.length === 0) return;
      try {
        await pool.query(
          `INSERT INTO ${s}.llmo_audit (stream, seq, record, hash) SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[])`,
          [records.map((r) => r.stream), records.map((r) => r.seq), records.map((r) => canonicalJson(r)), records.map((r) => r.hash)],
        );
      } catch (e) {
        // 23505: a (stream, seq) another writer took; trying again cannot help
        throw auditStoreFailed('write to', location, e, (e as { code?: unknown }).code !== '23505');
      }
    },
    async read(stream) {
      open();
      try {
        const r = stream === undefined
          ? await pool.query<{ record: string }>(`SELECT record FROM ${s}.llmo_audit ORDER BY stream, seq`)
          : await pool.query<{ record: string }>(`SELECT record FROM ${s}.llmo_audit WHERE stream = $1 ORDER BY seq`, [stream]);
        return r.rows.map((row) => recordOfRow(row.record));
      } catch (e) {
        throw auditStoreFailed('read', location, e, true);
      }
    },
    async heads() {
      open();
      try {
        const r = await pool.query<{ stream: string; seq: number; hash: string }>(`SELECT DISTINCT ON (stream) stream, seq, hash FROM ${s}.llmo_audit ORDER BY stream, seq DESC`);
        const out = Object.create(null) as Record<string, { seq: number; hash: string }>;
        for (const row of r.rows) out[row.stream] = { seq: Number(row.seq), hash: row.hash };
        return out as AuditHeads;
      } catch (e) {
        throw auditStoreFailed('read', location, e, true);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
