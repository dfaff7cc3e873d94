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
    // Event bodies without the fields their row keeps in columns (statements.ts bodyOf): half
    // the bytes per event. Version 1 bodies read the same; an older build refuses the file.
    version: 2,
    sql: '',
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
