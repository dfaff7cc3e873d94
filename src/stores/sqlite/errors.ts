/**
 * Maps better-sqlite3's errors to {@link StoreError}s.
 * @module
 */
import { StoreError, isStoreError, type StoreErrorCode } from '../../errors.ts';

/**
 * The SQLite result code of an error (`SQLITE_BUSY`, `SQLITE_FULL`, ...), or undefined.
 *
 * @example
 * ```ts
 * if (sqliteCode(e)?.startsWith('SQLITE_CONSTRAINT')) throw new StoreError('RUN_EXISTS', '...');
 * ```
 */
export function sqliteCode(e: unknown): string | undefined {
  if (!(e instanceof Error) || !('code' in e) || typeof e.code !== 'string') return undefined;
  return e.code.startsWith('SQLITE_') ? e.code : undefined;
}

function codeFor(sqlite: string): StoreErrorCode {
  if (sqlite === 'SQLITE_NOTADB' || sqlite.startsWith('SQLITE_CORRUPT')) return 'STORE_CORRUPT';
  if (sqlite === 'SQLITE_FULL') return 'STORE_FULL';
  if (sqlite.startsWith('SQLITE_BUSY') || sqlite.startsWith('SQLITE_LOCKED')) return 'STORE_UNAVAILABLE';
  if (sqlite.startsWith('SQLITE_CANTOPEN')) return 'STORE_INVALID';
  return 'STORE_FAILED';
}

/**
 * Converts anything better-sqlite3 threw into a {@link StoreError} (a `StoreError`
 * passes through): not a database or malformed → `STORE_CORRUPT`, `SQLITE_FULL` →
 * `STORE_FULL`, busy or locked past the busy timeout → `STORE_UNAVAILABLE`
 * (retriable), cannot open → `STORE_INVALID`, anything else → `STORE_FAILED`.
 * The driver's error is the `cause`.
 *
 * @example
 * ```ts
 * try { stmt.run(); } catch (e) { throw toStoreError(e, 'append', 'runs.db'); }
 * ```
 */
export function toStoreError(e: unknown, what: string, location: string): StoreError {
  if (isStoreError(e)) return e;
  const sqlite = sqliteCode(e);
  const message = e instanceof Error ? e.message : String(e);
  if (sqlite === undefined) return new StoreError('STORE_FAILED', `run store ${location}: ${what} failed: ${message}`, { cause: e });
  const code = codeFor(sqlite);
  const hint = code === 'STORE_CORRUPT' ? ' (the file is not a run store, or is damaged or truncated; it was left as it is)'
    : code === 'STORE_FULL' ? ' (the disk or the size limit is full; nothing of this write was kept)'
    : code === 'STORE_UNAVAILABLE' ? ' (another process held the file past the busy timeout)'
    : '';
  return new StoreError(code, `run store ${location}: ${what} failed: ${sqlite}: ${message}${hint}`, { cause: e });
}
