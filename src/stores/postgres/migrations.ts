/**
 * The PostgreSQL store's schema, as versioned migrations recorded in `llmo_schema`.
 * `migrate` runs on open under an advisory lock (per schema), so processes that
 * start together apply each migration once and never race on `CREATE`; a database
 * whose recorded version is newer than this build knows is refused (`STORE_TOO_NEW`).
 * @module
 */
import type pg from 'pg';
import { StoreError } from '../../errors.ts';

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
  readonly description: string;
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
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** Advisory lock class of the migrations (`llmo` in ASCII); the key is `hashtext(schema)`. */
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
 * Brings `schema` to {@link SCHEMA_VERSION}: creates it and `llmo_schema` when missing and
 * applies the missing migrations, all in one transaction under a transaction-scoped advisory
 * lock (so processes opening at once apply each version once, and it works through a pooler
 * in transaction mode, where a session lock could be taken and released on two different
 * server connections). Resolves with the versions it applied; rejects with `STORE_TOO_NEW`
 * when the database was written by a newer build (nothing changed).
 *
 * @example
 * ```ts
 * const client = await pool.connect();
 * try { await migrate(client, 'public'); } finally { client.release(); }
 * ```
 */
export async function migrate(client: pg.PoolClient | pg.Client, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const s = quoteIdent(schema);
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.llmo_schema (
      version integer PRIMARY KEY,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const r = await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${s}.llmo_schema`);
    const current = r.rows[0]?.v ?? 0;
    if (current > latest) {
      throw new StoreError('STORE_TOO_NEW', `schema ${schema} is at version ${current}, newer than this build knows (${latest}): upgrade llm-orchestrator to use it`);
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      for (const sql of m.up(s)) await client.query(sql);
      await client.query(`INSERT INTO ${s}.llmo_schema (version, description) VALUES ($1, $2)`, [m.version, m.description]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
