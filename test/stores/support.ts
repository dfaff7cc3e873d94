/**
 * Test helpers for the run stores: temporary directories and SQLite stores opened
 * with the native binding CI built for the running Node (LLMO_SQLITE_BINDING; tests
 * may read the environment, the library never does).
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunStore } from '../../src/runtime/store.ts';
import { createSqliteStore, type SqliteStoreOptions } from '../../src/stores/sqlite/index.ts';

/** The better-sqlite3 addon to load, when node_modules' one is built for another Node. */
export const nativeBinding: string | undefined = process.env['LLMO_SQLITE_BINDING'] || undefined;

/**
 * Opens a SQLite store the way every test should (with {@link nativeBinding}).
 *
 * @example
 * ```ts
 * const store = openSqlite({ path: join(dir, 'runs.db') });
 * ```
 */
export function openSqlite(options: SqliteStoreOptions): RunStore {
  return createSqliteStore({ ...options, ...(nativeBinding === undefined ? {} : { nativeBinding }) });
}

/**
 * A fresh temporary directory and its removal.
 *
 * @example
 * ```ts
 * const tmp = tempDir('kill'); ... tmp.remove();
 * ```
 */
export function tempDir(prefix: string): { readonly dir: string; readonly file: (name: string) => string; readonly remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `llmo-${prefix}-`));
  return { dir, file: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
