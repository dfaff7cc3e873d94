/**
 * `openLedger(url)`: one string (a CLI flag) to a budget ledger, parsed like the run store's.
 * @module
 */
import { ValidationError } from '../../errors.ts';
import type { BudgetLedger } from './ledger.ts';
import { createMemoryLedger } from './memory.ts';
import { createSqliteLedger } from './sqlite.ts';
import { isPostgresUrl, postgresTarget, redactUrl, sqlitePath } from '../../stores/url.ts';

function invalid(url: unknown, why: string): ValidationError {
  const shown = typeof url === 'string' ? redactUrl(url) : String(url);
  return new ValidationError('OPTIONS_INVALID', 'budget ledger URL is invalid', [{ code: 'invalid_value', path: ['url'], message: `${why}: ${JSON.stringify(shown)}` }]);
}

/**
 * Opens a budget ledger from one string:
 * - `memory:` → in memory (one process);
 * - `postgres://…` / `postgresql://…` → PostgreSQL (the `pg` driver loaded on demand); `?schema=name` picks the SQL schema;
 * - a file path, `sqlite:path`, `file:path` or `file:///abs/path` → SQLite (WAL; processes may share the file).
 *
 * The ledger's tables are its own, so it may share the run store's database.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('sqlite:budget.db');
 * ```
 */
export async function openLedger(url: string): Promise<BudgetLedger> {
  if (typeof url !== 'string' || url.trim() === '') throw invalid(url, 'expected memory:, a file path, sqlite:path or postgres://');
  if (url === 'memory:' || url === 'memory://') return createMemoryLedger();
  if (isPostgresUrl(url)) {
    // loaded on demand (pg stays out of processes that never use it), resolved beside this file
    const specifier = new URL(`./postgres${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    const mod = (await import(specifier)) as typeof import('./postgres.ts');
    return mod.createPostgresLedger(postgresTarget(url));
  }
  const path = sqlitePath(url);
  if (path === undefined) throw invalid(url, 'unknown ledger: expected memory:, a file path, sqlite:path or postgres://');
  return createSqliteLedger({ path });
}
