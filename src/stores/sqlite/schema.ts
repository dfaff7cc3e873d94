/**
 * The SQLite store's schema: versioned migrations, recorded in the file's
 * `user_version`, and an `application_id` marking the file as a run store.
 * @module
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';

/**
 * `PRAGMA application_id` of run store files ("llmo" in ASCII), so another
 * application's SQLite file is refused rather than written into.
 *
 * @example
 * ```ts
 * db.pragma(`application_id = ${APPLICATION_ID}`);
 * ```
 */
export const APPLICATION_ID = 0x6c6c6d6f;

/**
 * One schema step: the SQL that takes a file from `version - 1` to `version`.
 *
 * @example
 * ```ts
 * const m: Migration = { version: 2, sql: 'CREATE INDEX ...' };
 * ```
 */
export interface Migration {
  readonly version: number;
  readonly sql: string;
}

/**
 * Every migration, in order. Never edit a released one: add the next.
 *
 * @example
 * ```ts
 * const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
 * ```
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        topology TEXT NOT NULL,
        version TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT,
        tenant TEXT,
        fork_run_id TEXT,
        fork_node_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        output TEXT,
        error TEXT,
        lease_owner TEXT,
        lease_until INTEGER,
        wait_node_id TEXT,
        wait_name TEXT,
        wait_timeout_at INTEGER,
        signalled INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC);
      CREATE INDEX runs_by_status ON runs (status, lease_until);
      CREATE INDEX runs_by_topology ON runs (topology, created_at DESC, run_id DESC);
      CREATE TABLE events (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        node_id TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      );
    `,
  },
  {
    // Event bodies without the fields their row keeps in columns (event-rows.ts bodyOf): half
    // the bytes per event. Version 1 bodies read the same; an older build refuses the file.
    version: 2,
    sql: '',
  },
  {
    // Events keyed by an integer run key (the runs row's INTEGER PRIMARY KEY) instead of the run
    // id text: a smaller, cheaper index. One row per run per commit: `end_seq` NULL holds one
    // event (its body an object), else the events `seq` to `end_seq` (its body a JSON array, `ts`
    // the last event's). A run's `last_seq`/`updated_at` are those of its last row change; readers
    // take the later of them and its last events row, so appending node events writes no run row.
    version: 3,
    sql: `
      CREATE TABLE runs_v3 (
        run_key INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        topology TEXT NOT NULL,
        version TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT,
        tenant TEXT,
        fork_run_id TEXT,
        fork_node_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        output TEXT,
        error TEXT,
        lease_owner TEXT,
        lease_until INTEGER,
        wait_node_id TEXT,
        wait_name TEXT,
        wait_timeout_at INTEGER,
        signalled INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO runs_v3 (run_id, topology, version, status, input, tenant, fork_run_id, fork_node_id, created_at, updated_at,
        last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled)
        SELECT run_id, topology, version, status, input, tenant, fork_run_id, fork_node_id, created_at, updated_at,
        last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled
        FROM runs ORDER BY created_at, run_id;
      CREATE TABLE events_v3 (
        run_key INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        end_seq INTEGER,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        node_id TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (run_key, seq)
      );
      INSERT INTO events_v3 (run_key, seq, end_seq, ts, type, node_id, body)
        SELECT r.run_key, e.seq, NULL, e.ts, e.type, e.node_id, e.body FROM events e JOIN runs_v3 r ON r.run_id = e.run_id;
      DROP TABLE events;
      DROP TABLE runs;
      ALTER TABLE runs_v3 RENAME TO runs;
      ALTER TABLE events_v3 RENAME TO events;
      CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC);
      CREATE INDEX runs_by_status ON runs (status, lease_until);
      CREATE INDEX runs_by_topology ON runs (topology, created_at DESC, run_id DESC);
    `,
  },
  {
    // Requests to cancel a running run that another process holds (engine.cancel): its holder
    // reads them when it renews its leases. A table of their own, so no write path of runs changes.
    version: 4,
    sql: `
      CREATE TABLE cancels (
        run_id TEXT PRIMARY KEY,
        reason TEXT,
        at INTEGER NOT NULL
      );
    `,
  },
];

/**
 * The schema version this build writes and reads.
 *
 * @example
 * ```ts
 * if (fileVersion > SCHEMA_VERSION) throw new StoreError('STORE_TOO_NEW', '...');
 * ```
 */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Brings the file to {@link SCHEMA_VERSION} in one immediate transaction (so two
 * processes opening a new file at once migrate it once). Throws `STORE_TOO_NEW` for a
 * file from a newer build; SQLite errors propagate for the caller to map.
 *
 * @example
 * ```ts
 * migrate(db, 'runs.db', logger);
 * ```
 */
export function migrate(db: Database.Database, location: string, logger: Logger): void {
  db.transaction(() => {
    const from = db.pragma('user_version', { simple: true }) as number;
    if (from > SCHEMA_VERSION) throw tooNew(location, from);
    if (from === SCHEMA_VERSION) return;
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      db.exec(m.sql);
      logger.info({ store: location, version: m.version }, 'run store: migrated the schema');
    }
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/**
 * The error of a file written by a newer schema than this build knows.
 *
 * @example
 * ```ts
 * throw tooNew('runs.db', 7);
 * ```
 */
export function tooNew(location: string, fileVersion: number): StoreError {
  return new StoreError(
    'STORE_TOO_NEW',
    `run store ${location} has schema version ${fileVersion}, newer than this build's ${SCHEMA_VERSION}: upgrade llm-orchestrator to open it`,
  );
}
