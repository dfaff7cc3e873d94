/**
 * The PostgreSQL budget ledger: workers sharing one database. Each change is one transaction
 * that locks the keys' usage rows (`SELECT ... FOR UPDATE` in key order) before checking the
 * limits; serialization failures and deadlocks are retried.
 * @module
 */
import type pg from 'pg';
import * as z from 'zod';
import { silentLogger, type Logger } from '../../logger.ts';
import { parseOptions } from '../../runtime/options.ts';
import { isConnectionFailure, isTransient } from '../../stores/postgres/errors.ts';
import { runMigrations } from '../../stores/postgres/migrations.ts';
import { createPgPool, PG_PART_OPTIONS } from '../../stores/postgres/pool.ts';
import { firstRefused, ledgerFailed, mergeLines, type BudgetLedger, type KeyUsage, type ReserveRequest, type ReserveResult } from './ledger.ts';

/**
 * Schema of {@link PostgresLedgerOptions}.
 *
 * @example
 * ```ts
 * PostgresLedgerOptionsSchema.parse({ url: 'postgres://u:p@db/llmo' });
 * ```
 */
export const PostgresLedgerOptionsSchema = z.strictObject({
  ...PG_PART_OPTIONS,
  retries: z.number().int().nonnegative().optional(),
});

/**
 * Options of {@link createPostgresLedger}.
 *
 * @example
 * ```ts
 * const o: PostgresLedgerOptions = { url: 'postgres://llmo:llmo@127.0.0.1:5432/llmo', schema: 'public' };
 * ```
 */
export interface PostgresLedgerOptions {
  readonly url: string;
  /** SQL schema of the ledger's tables (default `public`; may be the run store's). */
  readonly schema?: string;
  /** Most connections (default 10). */
  readonly poolMax?: number;
  /** How often a transaction is tried again after a serialization failure or deadlock (default 5). */
  readonly retries?: number;
  /** How long opening a connection may take (default 5,000 ms): a server that never answers fails the check, not stalls it. */
  readonly connectTimeoutMs?: number;
  /** Longest one statement waits for the server (default 30,000 ms): a server that stops answering fails the check, not stalls it. */
  readonly queryTimeoutMs?: number;
  /** Where connection warnings go (default: nowhere). */
  readonly logger?: Logger;
}

/**
 * The ledger's schema steps (given the quoted schema), recorded in `llmo_budget_schema`. Append only.
 *
 * @example
 * ```ts
 * const latest = POSTGRES_LEDGER_MIGRATIONS.at(-1)!.version;
 * ```
 */
export const POSTGRES_LEDGER_MIGRATIONS: readonly { readonly version: number; readonly up: (s: string) => readonly string[] }[] = [
  {
    version: 1,
    up: (s) => [
      `CREATE TABLE ${s}.llmo_budget_usage (key text PRIMARY KEY, spent double precision NOT NULL DEFAULT 0)`,
      `CREATE TABLE ${s}.llmo_budget_reservations (
        id text NOT NULL, key text NOT NULL, amount double precision NOT NULL, expires_at bigint NOT NULL,
        PRIMARY KEY (id, key))`,
      `CREATE INDEX llmo_budget_reservations_key ON ${s}.llmo_budget_reservations (key, expires_at)`,
      `CREATE INDEX llmo_budget_reservations_expiry ON ${s}.llmo_budget_reservations (expires_at)`,
    ],
  },
];

type Tx = pg.PoolClient;

/**
 * Opens (creating and migrating when needed, under an advisory lock) a PostgreSQL budget ledger.
 *
 * @example
 * ```ts
 * const ledger = await createPostgresLedger({ url: 'postgres://llmo:llmo@127.0.0.1:5432/llmo' });
 * ```
 */
export async function createPostgresLedger(options: PostgresLedgerOptions): Promise<BudgetLedger> {
  const o = parseOptions(PostgresLedgerOptionsSchema, options, 'PostgreSQL ledger options') as PostgresLedgerOptions;
  const s = `"${o.schema ?? 'public'}"`;
  const log = (o.logger ?? silentLogger).child({ component: 'budget-ledger' });
  const pool = createPgPool({
    url: o.url, max: o.poolMax ?? 10, connectTimeoutMs: o.connectTimeoutMs ?? 5_000, queryTimeoutMs: o.queryTimeoutMs ?? 30_000, application: 'llmo-budget', jit: false, log, what: 'budget ledger (postgres)',
  });
  const retries = o.retries ?? 5;

  const tx = async <T>(op: string, f: (c: Tx) => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      let c: Tx | undefined;
      try {
        c = await pool.connect();
        await c.query('BEGIN');
        const out = await f(c);
        await c.query('COMMIT');
        c.release();
        return out;
      } catch (e) {
        if (c !== undefined) {
          // a connection that failed (or whose server stopped answering) is dropped, not rolled back on
          if (!isConnectionFailure(e)) await c.query('ROLLBACK').catch(() => undefined);
          c.release(isConnectionFailure(e));
        }
        if (attempt < retries && isTransient(e) && !isConnectionFailure(e)) continue;
        throw ledgerFailed('postgres', op, e, isTransient(e));
      }
    }
  };

  try {
    const c = await pool.connect();
    try {
      await runMigrations(c, {
        schema: o.schema ?? 'public', table: 'llmo_budget_schema', lock: { key: `${s}.llmo_budget` }, migrations: POSTGRES_LEDGER_MIGRATIONS,
        tooNew: (at, latest) => new Error(`the database's budget ledger is at schema version ${at}, newer than this build knows (${latest})`),
      });
    } finally {
      c.release();
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw ledgerFailed('postgres', 'open (migrate)', e, isTransient(e));
  }

  const hold = (op: string, req: ReserveRequest, mustExist: boolean): Promise<ReserveResult> => tx(op, async (c) => {
    const lines = mergeLines(req.lines);
    const keys = lines.map((l) => l.key);
    if (mustExist && lines.every((l) => l.amount === 0)) {
      await c.query(`UPDATE ${s}.llmo_budget_reservations SET expires_at = $1 WHERE id = $2`, [req.expiresAt, req.id]);
      return { ok: true };
    }
    // the usage rows are the locks: created when missing, then locked in key order
    await c.query(`INSERT INTO ${s}.llmo_budget_usage (key) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (key) DO NOTHING`, [keys]);
    const spent = await c.query<{ key: string; spent: number }>(`SELECT key, spent FROM ${s}.llmo_budget_usage WHERE key = ANY($1) ORDER BY key FOR UPDATE`, [keys]);
    await c.query(`DELETE FROM ${s}.llmo_budget_reservations WHERE key = ANY($1) AND expires_at <= $2`, [keys, req.now]);
    const held = await c.query<{ key: string; r: number }>(`SELECT key, SUM(amount) AS r FROM ${s}.llmo_budget_reservations WHERE key = ANY($1) GROUP BY key`, [keys]);
    const total = new Map<string, number>();
    for (const r of spent.rows) total.set(r.key, Number(r.spent));
    for (const r of held.rows) total.set(r.key, (total.get(r.key) ?? 0) + Number(r.r));
    const refused = firstRefused(lines, (k) => total.get(k) ?? 0);
    if (refused !== undefined) return refused;
    await c.query(
      `INSERT INTO ${s}.llmo_budget_reservations (id, key, amount, expires_at)
       SELECT $1, k, a, $4 FROM unnest($2::text[], $3::double precision[]) AS t(k, a)
       ON CONFLICT (id, key) DO UPDATE SET amount = ${s}.llmo_budget_reservations.amount + excluded.amount, expires_at = excluded.expires_at`,
      [req.id, keys, lines.map((l) => l.amount), req.expiresAt],
    );
    await c.query(`UPDATE ${s}.llmo_budget_reservations SET expires_at = $1 WHERE id = $2`, [req.expiresAt, req.id]);
    return { ok: true };
  });

  return {
    kind: 'postgres',
    reserve: (req) => hold('reserve', req, false),
    extend: (req) => hold('extend', req, true),
    settle: (id, actual) => tx('settle', async (c) => {
      await c.query(`DELETE FROM ${s}.llmo_budget_reservations WHERE id = $1`, [id]);
      const keys = Object.keys(actual).filter((k) => actual[k] !== 0).sort();
      if (keys.length === 0) return;
      await c.query(
        `INSERT INTO ${s}.llmo_budget_usage (key, spent) SELECT k, a FROM unnest($1::text[], $2::double precision[]) AS t(k, a) ORDER BY k
         ON CONFLICT (key) DO UPDATE SET spent = ${s}.llmo_budget_usage.spent + excluded.spent`,
        [keys, keys.map((k) => actual[k])],
      );
    }),
    release: (id) => tx('release', async (c) => void (await c.query(`DELETE FROM ${s}.llmo_budget_reservations WHERE id = $1`, [id]))),
    usage: (key, now) => tx('usage', async (c): Promise<KeyUsage> => {
      const r = await c.query<{ spent: number | null; reserved: number | null }>(
        `SELECT (SELECT spent FROM ${s}.llmo_budget_usage WHERE key = $1) AS spent,
                (SELECT SUM(amount) FROM ${s}.llmo_budget_reservations WHERE key = $1 AND expires_at > $2) AS reserved`,
        [key, now],
      );
      return { spent: Number(r.rows[0]?.spent ?? 0), reserved: Number(r.rows[0]?.reserved ?? 0) };
    }),
    sweep: (now) => tx('sweep', async (c) => (await c.query(`DELETE FROM ${s}.llmo_budget_reservations WHERE expires_at <= $1`, [now])).rowCount ?? 0),
    close: async () => {
      try {
        await pool.end();
      } catch (e) {
        throw ledgerFailed('postgres', 'close', e);
      }
    },
  };
}
