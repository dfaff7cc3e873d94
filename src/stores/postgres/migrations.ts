/**
 * Versioned PostgreSQL migrations: {@link runMigrations}, the one runner every PostgreSQL-backed
 * part uses (under an advisory lock, in one transaction, so processes that start together apply
 * each migration once and never race on `CREATE`; a database at a newer version than the build
 * knows is refused), and the run store's own migrations, recorded in `llmo_schema`.
 * @module
 */
import type pg from 'pg';
import { StoreError } from '../../errors.ts';
import { isConnectionFailure } from './errors.ts';

/**
 * One schema step: applied in a transaction with its `llmo_schema` row.
 *
 * @example
 * ```ts
 * const m: Migration = { version: 2, description: 'index runs by tenant', up: (s) => [`CREATE INDEX ON ${s}.llmo_runs (tenant)`] };
 * ```
 */
export interface Migration {
  readonly version: number;
  /** Recorded with the version where the version table has a description column (the run store's). */
  readonly description?: string;
  /** The statements, given the quoted schema name. */
  readonly up: (schema: string) => readonly string[];
}

/**
 * Every migration, in version order. Append only: a released migration never changes.
 *
 * @example
 * ```ts
 * const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
 * ```
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, events',
    up: (s) => [
      `CREATE TABLE ${s}.llmo_runs (
        run_id text PRIMARY KEY,
        topology text NOT NULL,
        version text NOT NULL,
        status text NOT NULL,
        input json,
        tenant text,
        fork_run_id text,
        fork_node_id text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        last_seq integer NOT NULL DEFAULT -1,
        output json,
        error json,
        lease_owner text,
        lease_until bigint,
        wait_node_id text,
        wait_name text,
        wait_timeout_at bigint,
        signalled boolean NOT NULL DEFAULT false,
        -- the id of the createRun write (commit.ts): a re-run of that write is no RUN_EXISTS
        creator bigint NOT NULL
      )`,
      `CREATE INDEX llmo_runs_list ON ${s}.llmo_runs (created_at DESC, run_id DESC)`,
      `CREATE INDEX llmo_runs_status ON ${s}.llmo_runs (status, updated_at)`,
      `CREATE INDEX llmo_runs_topology ON ${s}.llmo_runs (topology, created_at DESC)`,
      `CREATE INDEX llmo_runs_tenant ON ${s}.llmo_runs (tenant, created_at DESC) WHERE tenant IS NOT NULL`,
      `CREATE TABLE ${s}.llmo_events (
        run_id text NOT NULL,
        seq integer NOT NULL,
        ts bigint NOT NULL,
        type text NOT NULL,
        node_id text,
        body json NOT NULL,
        write_id bigint NOT NULL, -- the id of the append that wrote it (commit.ts)
        PRIMARY KEY (run_id, seq)
      )`,
    ],
  },
  {
    version: 2,
    description: 'progress updates without index writes: llmo_runs_status on (status, lease_until), fillfactor 70',
    // A node event only moves a run's last_seq and updated_at. With updated_at in no index and room
    // left in each page, that update is a HOT update: no new entry in any of the runs' indexes.
    up: (s) => [
      `DROP INDEX ${s}.llmo_runs_status`,
      `CREATE INDEX llmo_runs_status ON ${s}.llmo_runs (status, lease_until)`,
      `ALTER TABLE ${s}.llmo_runs SET (fillfactor = 70)`,
    ],
  },
  {
    version: 3,
    description: 'llmo_guard: fails a one-statement group commit whose rows were not where it expected (fast-commit.ts)',
    up: (s) => [
      `CREATE OR REPLACE FUNCTION ${s}.llmo_guard(ok boolean) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
       BEGIN
         IF ok IS NOT TRUE THEN
           RAISE EXCEPTION 'llmo: a group commit found a run missing, existing or at another seq; nothing of it was written' USING ERRCODE = 'LLMO1';
         END IF;
         RETURN 0;
       END $$`,
    ],
  },
  {
    version: 4,
    description: 'lease updates without index writes: llmo_runs_status on (status) alone',
    // claim and renew change only lease_owner and lease_until: with neither in an index, each is
    // a HOT update (recovery claims thousands of runs at once; renewals touch every held run).
    up: (s) => [
      `DROP INDEX ${s}.llmo_runs_status`,
      `CREATE INDEX llmo_runs_status ON ${s}.llmo_runs (status)`,
    ],
  },
  {
    version: 5,
    description: 'llmo_cancels: requests to cancel a running run another process holds (read at lease renewal)',
    // a table of its own, so no write path of llmo_runs changes (the one-statement commit included)
    up: (s) => [
      `CREATE TABLE ${s}.llmo_cancels (
        run_id text PRIMARY KEY,
        reason text,
        at bigint NOT NULL
      )`,
    ],
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** Advisory lock class of the run store's migrations (`llmo` in ASCII); the key is `hashtext(schema)`. */
const LOCK_CLASS = 0x6c6c6d6f;

/**
 * Double-quotes an identifier for SQL.
 *
 * @example
 * ```ts
 * quoteIdent('llmo_test'); // '"llmo_test"'
 * ```
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * What {@link runMigrations} applies, and where it records it. Every PostgreSQL-backed part (the
 * run store, the budget ledger, the audit and key stores) keeps its own version table and lock.
 *
 * @example
 * ```ts
 * const spec: MigrationSpec = {
 *   schema: 'public', table: 'llmo_keys_schema', lock: { key: '"public".llmo_keys' }, migrations,
 *   tooNew: (at, latest) => new Error(`the key table is at version ${at}, newer than this build's ${latest}`),
 * };
 * ```
 */
export interface MigrationSpec {
  /** The SQL schema (unquoted), created when missing. */
  readonly schema: string;
  /** The table recording applied versions, in that schema. */
  readonly table: string;
  /** The transaction-scoped advisory lock: `pg_advisory_xact_lock(class, hashtext(key))`, or `(hashtext(key))` without a class. */
  readonly lock: { readonly key: string; readonly class?: number };
  readonly migrations: readonly Migration[];
  /** The error for a database at a newer version than `latest` (nothing is changed). */
  readonly tooNew: (at: number, latest: number) => Error;
  /**
   * The version table's shape: `(version, description, applied_at timestamptz)` (the run store's)
   * or, by default, `(version, applied_at bigint)` (epoch ms).
   */
  readonly described?: boolean;
}

/**
 * The one migration runner of the PostgreSQL-backed parts: creates the schema and the version
 * table when missing and applies the missing migrations, all in one transaction under a
 * transaction-scoped advisory lock (so processes opening at once apply each version once, and it
 * works through a pooler in transaction mode, where a session lock could be taken and released
 * on two different server connections). Resolves with the versions it applied; rejects with
 * `spec.tooNew(...)` when the database was written by a newer build (nothing changed).
 *
 * @example
 * ```ts
 * const applied = await runMigrations(client, spec); // [1, 2] on a fresh database, [] after
 * ```
 */
export async function runMigrations(client: pg.PoolClient | pg.Client, spec: MigrationSpec): Promise<number[]> {
  const s = quoteIdent(spec.schema);
  const t = `${s}.${quoteIdent(spec.table)}`;
  const latest = spec.migrations[spec.migrations.length - 1]?.version ?? 0;
  await client.query('BEGIN');
  try {
    if (spec.lock.class === undefined) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [spec.lock.key]);
    else await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [spec.lock.class, spec.lock.key]);
    // CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists: only when missing.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [spec.schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(spec.described === true
      ? `CREATE TABLE IF NOT EXISTS ${t} (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`
      : `CREATE TABLE IF NOT EXISTS ${t} (version integer PRIMARY KEY, applied_at bigint NOT NULL)`);
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${t}`);
    const current = Number(r.rows[0]?.v ?? 0);
    if (current > latest) throw spec.tooNew(current, latest);
    const applied: number[] = [];
    for (const m of spec.migrations) {
      if (m.version <= current) continue;
      for (const sql of m.up(s)) await client.query(sql);
      if (spec.described === true) await client.query(`INSERT INTO ${t} (version, description) VALUES ($1, $2)`, [m.version, m.description ?? '']);
      else await client.query(`INSERT INTO ${t} (version, applied_at) VALUES ($1, $2)`, [m.version, Date.now()]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (e) {
    // a connection that failed (or whose server stopped answering) has nothing to roll back on
    if (!isConnectionFailure(e)) await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * Brings the run store's `schema` to {@link SCHEMA_VERSION} with {@link runMigrations} (versions
 * recorded in `llmo_schema`); rejects with `STORE_TOO_NEW` when the database was written by a
 * newer build (nothing changed).
 *
 * @example
 * ```ts
 * const client = await pool.connect();
 * try { await migrate(client, 'public'); } finally { client.release(); }
 * ```
 */
export function migrate(client: pg.PoolClient | pg.Client, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return runMigrations(client, {
    schema, table: 'llmo_schema', lock: { class: LOCK_CLASS, key: schema }, migrations, described: true,
    tooNew: (at, latest) => new StoreError('STORE_TOO_NEW', `schema ${schema} is at version ${at}, newer than this build knows (${latest}): upgrade llm-orchestrator to use it`),
  });
}
