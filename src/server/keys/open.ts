/**
 * `openKeyStore(url)`: one string (a CLI flag) to a key store.
 * @module
 */
import { ValidationError } from '../../errors.ts';
import { isPostgresUrl, postgresTarget, redactUrl, sqlitePath } from '../../stores/url.ts';
import type { KeyStore } from '../access.ts';
import { createFileKeyStore } from './file.ts';
import { createMemoryKeyStore } from './memory.ts';
import { createSqliteKeyStore } from './sqlite.ts';

/**
 * Where `llmo keys` and `llmo serve` keep keys when not told: `.llmo/keys.json` in the working directory.
 *
 * @example
 * ```ts
 * const keys = await openKeyStore(DEFAULT_KEYS_FILE);
 * ```
 */
export const DEFAULT_KEYS_FILE = '.llmo/keys.json';

const invalid = (url: unknown, why: string): ValidationError => {
  const shown = typeof url === 'string' ? redactUrl(url) : String(url);
  return new ValidationError('OPTIONS_INVALID', 'key store URL is invalid', [{ code: 'invalid_value', path: ['keys'], message: `${why}: ${JSON.stringify(shown)}` }]);
};

/**
 * Opens a key store from one string:
 * - `memory:` → in memory (tests; keys vanish with the process);
 * - `postgres://…` / `postgresql://…` → PostgreSQL (`pg` loaded on demand); `?schema=name` picks the SQL schema;
 * - `sqlite:path`, `file:path`, or a path ending in `.db`, `.sqlite` or `.sqlite3` → SQLite;
 * - any other path → a JSON file (written atomically, mode 0600, re-read when it changes).
 *
 * Secrets are stored only as SHA-256 hashes. Revocation takes effect at the next request:
 * the file store re-reads the file when its inode, mtime or size changed; the SQL stores query
 * the table on every verify (one lookup by the hash's unique index; no cache).
 *
 * @example
 * ```ts
 * const keys = await openKeyStore('.llmo/keys.json');
 * ```
 */
export async function openKeyStore(url: string): Promise<KeyStore> {
  if (typeof url !== 'string' || url.trim() === '') throw invalid(url, 'expected a JSON file path, a .db file, sqlite:path or postgres://');
  if (url === 'memory:' || url === 'memory://') return createMemoryKeyStore();
  if (isPostgresUrl(url)) {
    // loaded on demand (pg stays out of processes that never use it), resolved beside this file
    const specifier = new URL(`./postgres${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
    const mod = (await import(specifier)) as typeof import('./postgres.ts');
    return mod.createPostgresKeyStore(postgresTarget(url));
  }
  const sqlite = /^(?:sqlite|file):/i.test(url) || /\.(?:db|sqlite3?)$/i.test(url);
  const path = sqlitePath(url);
  if (path === undefined) throw invalid(url, 'unknown key store: expected a JSON file path, a .db file, sqlite:path or postgres://');
  return sqlite ? createSqliteKeyStore(path) : createFileKeyStore(path);
}
