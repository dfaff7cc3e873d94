/**
 * The audit table in a SQLite file (the run store's, or a file of its own): one connection,
 * WAL, each `write` one transaction. A new file is marked as a run store file, so the run store
 * opens it too; a file of another application is refused untouched.
 * @module
 */
import Database from 'better-sqlite3';
import { StoreError } from '../../errors.ts';
import { APPLICATION_ID } from '../../stores/sqlite/schema.ts';
import { canonicalJson } from './canonical.ts';
import type { AuditHeads } from './record.ts';
import { AUDIT_MIGRATIONS, AUDIT_SCHEMA_VERSION, auditStoreFailed, recordOfRow } from './store-rows.ts';
import type { AuditStore } from './types.ts';

/**
 * Options of {@link createSqliteAuditStore}.
 *
 * @example
 * ```ts
 * const o: SqliteAuditStoreOptions = { path: 'runs.db' };
 * ```
 */
export interface SqliteAuditStoreOptions {
  readonly path: string;
  readonly nativeBinding?: string;
  readonly busyTimeoutMs?: number;
}

/** Creates `llmo_audit` or brings it to this build's version, in one immediate transaction. */
function migrate(db: Database.Database, path: string): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS llmo_audit_schema (version INTEGER NOT NULL)');
    const from = (db.prepare('SELECT max(version) FROM llmo_audit_schema').pluck().get() as number | null) ?? 0;
    if (from > AUDIT_SCHEMA_VERSION) {
      throw new StoreError('STORE_TOO_NEW', `the audit table of ${path} has schema version ${from}, newer than this build's ${AUDIT_SCHEMA_VERSION}: upgrade llm-orchestrator`);
    }
    for (const m of AUDIT_MIGRATIONS) {
      if (m.version <= from) continue;
      for (const sql of m.up('')) db.exec(sql);
      db.prepare('INSERT INTO llmo_audit_schema (version) VALUES (?)').run(m.version);
    }
  }).immediate();
}

/**
 * Opens (creating and migrating when needed) the audit table of a SQLite file. Throws
 * `STORE_CORRUPT` for a database of another application, `STORE_TOO_NEW` for a newer table.
 *
 * @example
 * ```ts
 * const store = createSqliteAuditStore({ path: 'runs.db' });
 * await store.write(records);
 * ```
 */
export function createSqliteAuditStore(options: SqliteAuditStoreOptions): AuditStore {
  const { path } = options;
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000, ...(options.nativeBinding === undefined ? {} : { nativeBinding: options.nativeBinding }) });
  } catch (e) {
    throw new StoreError('STORE_UNAVAILABLE', `cannot open the audit table of ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    const appId = db.pragma('application_id', { simple: true }) as number;
    const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
    if (tables > 0 && appId !== APPLICATION_ID) {
      throw new StoreError('STORE_CORRUPT', `${path} is a SQLite database of another application (application_id ${appId}); it was left as it is`);
    }
    if (appId !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma('journal_mode = WAL');
    migrate(db, path);
  } catch (e) {
    db.close();
    if (e instanceof StoreError) throw e;
    throw new StoreError('STORE_CORRUPT', `cannot open the audit table of ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const insert = db.prepare('INSERT INTO llmo_audit (stream, seq, record, hash) VALUES (?, ?, ?, ?)');
  const all = db.prepare('SELECT record FROM llmo_audit ORDER BY stream, seq').pluck();
  const ofStream = db.prepare('SELECT record FROM llmo_audit WHERE stream = ? ORDER BY seq').pluck();
  // SQLite: the bare columns of a max() aggregate come from the row holding the max
  const heads = db.prepare('SELECT stream, max(seq) AS seq, hash FROM llmo_audit GROUP BY stream');
  const writeAll = db.transaction((records: readonly { stream: string; seq: number; hash: string }[], texts: readonly string[]) => {
    records.forEach((r, k) => insert.run(r.stream, r.seq, texts[k], r.hash));
  });
  let closed = false;
  const open = (): void => {
    if (closed) throw new StoreError('STORE_CLOSED', `the audit store of ${path} is closed`);
  };
  return {
    async write(records) {
      open();
      const texts = records.map((r) => canonicalJson(r));
      try {
        writeAll.immediate(records, texts);
      } catch (e) {
        // a taken (stream, seq) is another writer on the chain: trying again cannot help
        throw auditStoreFailed('write to', path, e, !/UNIQUE|PRIMARY KEY/i.test(e instanceof Error ? e.message : ''));
      }
    },
    async read(stream) {
      open();
      try {
        const rows = (stream === undefined ? all.all() : ofStream.all(stream)) as string[];
        return rows.map(recordOfRow);
      } catch (e) {
        throw auditStoreFailed('read', path, e, true);
      }
    },
    async heads() {
      open();
      try {
        const out = Object.create(null) as Record<string, { seq: number; hash: string }>;
        for (const r of heads.all() as { stream: string; seq: number; hash: string }[]) out[r.stream] = { seq: r.seq, hash: r.hash };
        return out as AuditHeads;
      } catch (e) {
        throw auditStoreFailed('read', path, e, true);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  };
}
