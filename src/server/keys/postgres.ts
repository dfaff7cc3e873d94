/**
 * Keys in PostgreSQL (the `llmo_keys` table, in the run store's database or its own). Every
 * `verify` is one indexed query by the secret's hash, so a revoked key stops working at the
 * next request on every server sharing the database (no cache).
 * @module
 */
import type pg from 'pg';
import * as z from 'zod';
import { silentLogger, type Logger } from '../../logger.ts';
import { parseOptions } from '../../runtime/options.ts';
import { runMigrations } from '../../stores/postgres/migrations.ts';
import { createPgPool, PG_PART_OPTIONS } from '../../stores/postgres/pool.ts';
import { redactUrl } from '../../stores/url.ts';
import type { CreatedKey, KeyStore, NewKey } from '../access.ts';
import { createdOf, hashSecret, infoOf, keysFailed, newRow, parseNewKey, principalOfRow, sameHash } from './rows.ts';
import { KEY_COLUMNS, rowOf, valuesOf, type SqlKeyRow } from './sql.ts';

/**
 * The key table's schema steps (given the quoted schema), recorded in `llmo_keys_schema`. Append only.
 *
 * @example
 * ```ts
 * const latest = POSTGRES_KEY_MIGRATIONS.at(-1)!.version;
 * ```
 */
export const POSTGRES_KEY_MIGRATIONS: readonly { readonly version: number; readonly up: (s: string) => readonly string[] }[] = [
  {
    version: 1,
    up: (s) => [
      `CREATE TABLE ${s}.llmo_keys (
        key_id text PRIMARY KEY, hash text NOT NULL UNIQUE, tenant text NOT NULL, roles text NOT NULL,
        name text, created_at bigint NOT NULL, revoked_at bigint)`,
      `CREATE INDEX llmo_keys_tenant ON ${s}.llmo_keys (tenant, created_at)`,
    ],
  },
];

/**
 * Options of {@link createPostgresKeyStore}.
 *
 * @example
 * ```ts
 * const o: PostgresKeyStoreOptions = { url: 'postgres://llmo:llmo@127.0.0.1:5432/llmo', schema: 'public' };
 * ```
 */
export interface PostgresKeyStoreOptions {
  readonly url: string;
  /** SQL schema of the table (default `public`; a plain identifier). */
  readonly schema?: string;
  /** Most connections (default 4). */
  readonly poolMax?: number;
  /** How long opening a connection may take (default 5,000 ms): a server that never answers fails the request, not stalls it. */
  readonly connectTimeoutMs?: number;
  /** Longest one statement waits for the server (default 30,000 ms): a server that stops answering fails the request, not stalls it. */
  readonly queryTimeoutMs?: number;
  /** Where connection warnings go (default: nowhere). */
  readonly logger?: Logger;
}

/**
 * Schema of {@link PostgresKeyStoreOptions}.
 *
 * @example
 * ```ts
 * PostgresKeyStoreOptionsSchema.parse({ url: 'postgres://u:p@db/llmo', connectTimeoutMs: 2_000 });
 * ```
 */
export const PostgresKeyStoreOptionsSchema = z.strictObject(PG_PART_OPTIONS);

/**
 * Opens (creating and migrating when needed, under an advisory lock) a key store in PostgreSQL.
 *
 * @example
 * ```ts
 * const keys = await createPostgresKeyStore({ url: 'postgres://llmo:llmo@127.0.0.1:5432/llmo' });
 * ```
 */
export async function createPostgresKeyStore(options: PostgresKeyStoreOptions): Promise<KeyStore> {
  const o = parseOptions(PostgresKeyStoreOptionsSchema, options, 'PostgreSQL key store options') as PostgresKeyStoreOptions;
  const location = redactUrl(o.url);
  const schema = o.schema ?? 'public';
  const s = `"${schema}"`;
  const log = (o.logger ?? silentLogger).child({ component: 'key-store' });
  const pool = createPgPool({
    url: o.url, max: o.poolMax ?? 4, connectTimeoutMs: o.connectTimeoutMs ?? 5_000, queryTimeoutMs: o.queryTimeoutMs ?? 30_000, application: 'llmo-keys', jit: false, log, what: `key store ${location}`,
  });
  const query = async <R extends pg.QueryResultRow>(op: string, text: string, values: unknown[] = []): Promise<R[]> => {
    try {
      return (await pool.query<R>(text, values)).rows;
    } catch (e) {
      throw keysFailed(location, op, e);
    }
  };

  try {
    const c = await pool.connect();
    try {
      await runMigrations(c, {
        schema, table: 'llmo_keys_schema', lock: { key: `${s}.llmo_keys` }, migrations: POSTGRES_KEY_MIGRATIONS,
        tooNew: (at, latest) => new Error(`the database's key table is at schema version ${at}, newer than this build knows (${latest})`),
      });
    } finally {
      c.release();
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw keysFailed(location, 'open', e);
  }

  return {
    location,
    async verify(secret) {
      const hash = hashSecret(secret);
      const [r] = await query<SqlKeyRow>('verify a key', `SELECT * FROM ${s}.llmo_keys WHERE hash = $1`, [hash]);
      return r !== undefined && r.revoked_at === null && sameHash(r.hash, hash) ? principalOfRow(rowOf(r)) : undefined;
    },
    async create(k: NewKey): Promise<CreatedKey> {
      const { row, secret } = newRow(parseNewKey(k), Date.now());
      await query('create a key', `INSERT INTO ${s}.llmo_keys (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, valuesOf(row));
      return createdOf(row, secret);
    },
    async list(tenant) {
      const rows = tenant === undefined
        ? await query<SqlKeyRow>('list keys', `SELECT * FROM ${s}.llmo_keys ORDER BY created_at, key_id`)
        : await query<SqlKeyRow>('list keys', `SELECT * FROM ${s}.llmo_keys WHERE tenant = $1 ORDER BY created_at, key_id`, [tenant]);
      return rows.map((r) => infoOf(rowOf(r)));
    },
    async revoke(keyId, tenant) {
      const [r] = await query<{ tenant: string }>('revoke a key', `SELECT tenant FROM ${s}.llmo_keys WHERE key_id = $1`, [keyId]);
      if (r === undefined || (tenant !== undefined && r.tenant !== tenant)) return false;
      await query('revoke a key', `UPDATE ${s}.llmo_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL`, [Date.now(), keyId]);
      return true;
    },
    async close() {
      try {
        await pool.end();
      } catch (e) {
        throw keysFailed(location, 'close', e);
      }
    },
  };
}
