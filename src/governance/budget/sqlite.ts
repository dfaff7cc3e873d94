/**
 * The SQLite budget ledger: a file (WAL) that several processes may share; each change is one
 * `BEGIN IMMEDIATE` transaction, so two writers never check the same limit at once.
 * @module
 */
import Database from 'better-sqlite3';
import * as z from 'zod';
import { parseOptions } from '../../runtime/options.ts';
import { APPLICATION_ID } from '../../stores/sqlite/schema.ts';
import { firstRefused, ledgerFailed, mergeLines, type BudgetLedger, type KeyUsage, type ReserveRequest, type ReserveResult } from './ledger.ts';

/**
 * Schema of {@link SqliteLedgerOptions}.
 *
 * @example
 * ```ts
 * SqliteLedgerOptionsSchema.parse({ path: 'budget.db' });
 * ```
 */
export const SqliteLedgerOptionsSchema = z.strictObject({
  path: z.string().min(1),
  busyTimeoutMs: z.number().int().nonnegative().optional(),
  nativeBinding: z.string().min(1).optional(),
});

/**
 * Options of {@link createSqliteLedger}.
 *
 * @example
 * ```ts
 * const o: SqliteLedgerOptions = { path: 'runs.db', busyTimeoutMs: 5000 };
 * ```
 */
export interface SqliteLedgerOptions {
  /** The database file (may be the run store's: the ledger has its own tables). */
  readonly path: string;
  /** How long a writer waits for another process's transaction (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /** A `better_sqlite3.node` built for the running Node. */
  readonly nativeBinding?: string;
}

/**
 * The ledger's schema steps, recorded in `llmo_budget_schema`. Append only.
 *
 * @example
 * ```ts
 * const latest = SQLITE_LEDGER_MIGRATIONS.at(-1)!.version;
 * ```
 */
export const SQLITE_LEDGER_MIGRATIONS: readonly { readonly version: number; readonly up: readonly string[] }[] = [
  {
    version: 1,
    up: [
      'CREATE TABLE llmo_budget_usage (key TEXT PRIMARY KEY, spent REAL NOT NULL DEFAULT 0) WITHOUT ROWID',
      `CREATE TABLE llmo_budget_reservations (
        id TEXT NOT NULL, key TEXT NOT NULL, amount REAL NOT NULL, expires_at INTEGER NOT NULL,
        PRIMARY KEY (id, key)) WITHOUT ROWID`,
      'CREATE INDEX llmo_budget_reservations_key ON llmo_budget_reservations (key, expires_at)',
      'CREATE INDEX llmo_budget_reservations_expiry ON llmo_budget_reservations (expires_at)',
    ],
  },
];

/** SQLite codes after which the same operation may succeed (another process held the lock too long). */
const retriable = (e: unknown): boolean => {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
};

/**
 * Opens (creating and migrating when needed) a SQLite budget ledger.
 *
 * @example
 * ```ts
 * const ledger = createSqliteLedger({ path: 'budget.db' });
 * ```
 */
export function createSqliteLedger(options: SqliteLedgerOptions): BudgetLedger {
  const o = parseOptions(SqliteLedgerOptionsSchema, options, 'SQLite ledger options') as SqliteLedgerOptions;
  let db: Database.Database;
  try {
    db = new Database(o.path, { timeout: o.busyTimeoutMs ?? 5000, ...(o.nativeBinding === undefined ? {} : { nativeBinding: o.nativeBinding }) });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } catch (e) {
    throw ledgerFailed('sqlite', `open ${o.path}`, e, retriable(e));
  }
  const q = {
    touchKey: db.prepare('INSERT INTO llmo_budget_usage (key, spent) VALUES (?, 0) ON CONFLICT (key) DO NOTHING'),
    spent: db.prepare<[string], { spent: number }>('SELECT spent FROM llmo_budget_usage WHERE key = ?'),
    reserved: db.prepare<[string], { r: number | null }>('SELECT SUM(amount) AS r FROM llmo_budget_reservations WHERE key = ?'),
    expireKey: db.prepare('DELETE FROM llmo_budget_reservations WHERE key = ? AND expires_at <= ?'),
    expireAll: db.prepare('DELETE FROM llmo_budget_reservations WHERE expires_at <= ?'),
    exists: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM llmo_budget_reservations WHERE id = ?'),
    hold: db.prepare(`INSERT INTO llmo_budget_reservations (id, key, amount, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (id, key) DO UPDATE SET amount = amount + excluded.amount, expires_at = excluded.expires_at`),
    expiry: db.prepare('UPDATE llmo_budget_reservations SET expires_at = ? WHERE id = ?'),
    drop: db.prepare('DELETE FROM llmo_budget_reservations WHERE id = ?'),
    spend: db.prepare('INSERT INTO llmo_budget_usage (key, spent) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET spent = spent + excluded.spent'),
  };
  const used = (key: string): number => (q.spent.get(key)?.spent ?? 0) + (q.reserved.get(key)?.r ?? 0);
  const hold = db.transaction((req: ReserveRequest, mustExist: boolean): ReserveResult => {
    const lines = mergeLines(req.lines);
    for (const l of lines) q.expireKey.run(l.key, req.now);
    const refused = firstRefused(lines, used);
    if (refused !== undefined) return refused;
    if (mustExist && lines.every((l) => l.amount === 0) && q.exists.get(req.id)!.n === 0) return { ok: true };
    for (const l of lines) {
      q.touchKey.run(l.key);
      q.hold.run(req.id, l.key, l.amount, req.expiresAt);
    }
    q.expiry.run(req.expiresAt, req.id);
    return { ok: true };
  });
  const settle = db.transaction((id: string, actual: Readonly<Record<string, number>>): void => {
    q.drop.run(id);
    for (const k of Object.keys(actual).sort()) if (actual[k] !== 0) q.spend.run(k, actual[k]);
  });
  const usage = db.transaction((key: string, now: number): KeyUsage => {
    q.expireKey.run(key, now);
    return { spent: q.spent.get(key)?.spent ?? 0, reserved: q.reserved.get(key)?.r ?? 0 };
  });
  const run = async <T>(op: string, f: () => T): Promise<T> => {
    try {
      return f();
    } catch (e) {
      throw ledgerFailed('sqlite', op, e, retriable(e));
    }
  };
  return {
    kind: 'sqlite',
    reserve: (req) => run('reserve', () => hold.immediate(req, false)),
    extend: (req) => run('extend', () => hold.immediate(req, true)),
    settle: (id, actual) => run('settle', () => settle.immediate(id, actual)),
    release: (id) => run('release', () => void q.drop.run(id)),
    usage: (key, now) => run('usage', () => usage.immediate(key, now)),
    sweep: (now) => run('sweep', () => q.expireAll.run(now).changes),
    close: () => run('close', () => void db.close()),
  };
}

function migrate(db: Database.Database): void {
  db.transaction(() => {
    // a new file is marked as this library's, so the run store may later share it (it refuses other applications' files)
    const fresh = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number }).n === 0;
    if (fresh && db.pragma('application_id', { simple: true }) === 0) db.pragma(`application_id = ${APPLICATION_ID}`);
    db.exec('CREATE TABLE IF NOT EXISTS llmo_budget_schema (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const at = (db.prepare('SELECT MAX(version) AS v FROM llmo_budget_schema').get() as { v: number | null }).v ?? 0;
    const latest = SQLITE_LEDGER_MIGRATIONS[SQLITE_LEDGER_MIGRATIONS.length - 1]!.version;
    if (at > latest) throw new Error(`the database's budget ledger is at schema version ${at}, newer than this build knows (${latest})`);
    for (const m of SQLITE_LEDGER_MIGRATIONS) {
      if (m.version <= at) continue;
      for (const s of m.up) db.exec(s);
      db.prepare('INSERT INTO llmo_budget_schema (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
    }
  }).immediate();
}
