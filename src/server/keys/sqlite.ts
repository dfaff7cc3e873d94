/**
 * Keys in a SQLite file (the run store's may be shared: the table is its own). Every
 * `verify` is one indexed lookup by the secret's hash, so a revoked key stops working
 * at the next request, in every process sharing the file (no cache).
 * @module
 */
import Database from 'better-sqlite3';
import { APPLICATION_ID } from '../../stores/sqlite/schema.ts';
import type { CreatedKey, KeyStore, NewKey } from '../access.ts';
import { createdOf, hashSecret, infoOf, keysFailed, newRow, parseNewKey, principalOfRow, sameHash } from './rows.ts';
import { KEY_COLUMNS, rowOf, valuesOf, type SqlKeyRow } from './sql.ts';

/**
 * The key table's schema steps, recorded in `llmo_keys_schema`. Append only.
 *
 * @example
 * ```ts
 * const latest = SQLITE_KEY_MIGRATIONS.at(-1)!.version;
 * ```
 */
export const SQLITE_KEY_MIGRATIONS: readonly { readonly version: number; readonly up: readonly string[] }[] = [
  {
    version: 1,
    up: [
      `CREATE TABLE llmo_keys (
        key_id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, roles TEXT NOT NULL,
        name TEXT, created_at INTEGER NOT NULL, revoked_at INTEGER)`,
      'CREATE INDEX llmo_keys_tenant ON llmo_keys (tenant, created_at)',
    ],
  },
];

/**
 * Opens (creating and migrating when needed) a key store in a SQLite file.
 *
 * @example
 * ```ts
 * const keys = createSqliteKeyStore('keys.db');
 * ```
 */
export function createSqliteKeyStore(path: string): KeyStore {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    migrate(db);
  } catch (e) {
    throw keysFailed(path, 'open', e);
  }
  const q = {
    byHash: db.prepare<[string], SqlKeyRow>('SELECT * FROM llmo_keys WHERE hash = ?'),
    insert: db.prepare(`INSERT INTO llmo_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`),
    all: db.prepare<[], SqlKeyRow>('SELECT * FROM llmo_keys ORDER BY created_at, key_id'),
    ofTenant: db.prepare<[string], SqlKeyRow>('SELECT * FROM llmo_keys WHERE tenant = ? ORDER BY created_at, key_id'),
    byId: db.prepare<[string], SqlKeyRow>('SELECT * FROM llmo_keys WHERE key_id = ?'),
    revoke: db.prepare('UPDATE llmo_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL'),
  };
  const run = async <T>(op: string, f: () => T): Promise<T> => {
    try {
      return f();
    } catch (e) {
      throw keysFailed(path, op, e);
    }
  };
  return {
    location: path,
    verify: (secret) => run('verify a key', () => {
      const hash = hashSecret(secret);
      const r = q.byHash.get(hash);
      return r !== undefined && r.revoked_at === null && sameHash(r.hash, hash) ? principalOfRow(rowOf(r)) : undefined;
    }),
    async create(k: NewKey): Promise<CreatedKey> {
      const checked = parseNewKey(k);
      return run('create a key', () => {
        const { row, secret } = newRow(checked, Date.now());
        q.insert.run(...valuesOf(row));
        return createdOf(row, secret);
      });
    },
    list: (tenant) => run('list keys', () => (tenant === undefined ? q.all.all() : q.ofTenant.all(tenant)).map((r) => infoOf(rowOf(r)))),
    revoke: (keyId, tenant) => run('revoke a key', () => {
      const r = q.byId.get(keyId);
      if (r === undefined || (tenant !== undefined && r.tenant !== tenant)) return false;
      q.revoke.run(Date.now(), keyId);
      return true;
    }),
    close: () => run('close', () => void db.close()),
  };
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    // a new file is marked as this library's, so the run store may later share it
    const fresh = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n === 0;
    if (fresh && db.pragma('application_id', { simple: true }) === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
    db.exec('CREATE TABLE IF NOT EXISTS llmo_keys_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const at = (db.prepare('SELECT MAX(version) AS v FROM llmo_keys_schema').get() as { v: number | null }).v ?? 0;
    const latest = SQLITE_KEY_MIGRATIONS[SQLITE_KEY_MIGRATIONS.length - 1]!.version;
    if (at > latest) throw new Error(`the database's key table is at schema version ${at}, newer than this build knows (${latest})`);
    for (const m of SQLITE_KEY_MIGRATIONS) {
      if (m.version <= at) continue;
      for (const s of m.up) db.exec(s);
      db.prepare('INSERT INTO llmo_keys_schema (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }
  }).immediate();
}
