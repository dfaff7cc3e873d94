/**
 * Keys in PostgreSQL (the `llmo_keys` table, in the run store's database or its own). Every
 * `verify` is one indexed query by the secret's hash, so a revoked key stops working at the
 * next request on every server sharing the database (no cache).
 * @module
 */
import pg from 'pg';
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
}

/**
 * Opens (creating and migrating when needed, under an advisory lock) a key store in PostgreSQL.
 *
 * @example
 * ```ts
 * const keys = await createPostgresKeyStore({ url: 'postgres://llmo:llmo@127.0.0.1:5432/llmo' });
 * ```
 */
export async function createPostgresKeyStore(options: PostgresKeyStoreOptions): Promise<KeyStore> {
  const location = redactUrl(options.url);
  const schema = options.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]*$/i.test(schema)) throw keysFailed(location, 'open', new Error(`schema ${JSON.stringify(schema)} is not a plain SQL identifier`));
  const s = `"${schema}"`;
  const pool = new pg.Pool({ connectionString: options.url, max: options.poolMax ?? 4 });
  // an idle client's connection dropping is reported by the next query that needs one
  pool.on('error', () => undefined);
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
      await c.query('BEGIN');
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('${s.replace(/'/g, "''")}.llmo_keys'))`);
      if (schema !== 'public') await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${s}.llmo_keys_schema (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
      const at = (await c.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${s}.llmo_keys_schema`)).rows[0]?.v ?? 0;
      const latest = POSTGRES_KEY_MIGRATIONS[POSTGRES_KEY_MIGRATIONS.length - 1]!.version;
      if (at > latest) throw new Error(`the database's key table is at schema version ${at}, newer than this build knows (${latest})`);
      for (const m of POSTGRES_KEY_MIGRATIONS) {
        if (m.version <= at) continue;
        for (const stmt of m.up(s)) await c.query(stmt);
        await c.query(`INSERT INTO ${s}.llmo_keys_schema (version, applied_at) VALUES ($1, $2)`, [m.version, Date.now()]);
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
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
