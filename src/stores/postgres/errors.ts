/**
 * How the PostgreSQL store turns driver and server failures into `StoreError`s:
 * a server that went away is `STORE_UNAVAILABLE` (retriable), a full disk
 * `STORE_FULL`, a taken key `SEQ_CONFLICT`/`RUN_EXISTS`, anything else `STORE_FAILED`.
 * @module
 */
import { StoreError, isStoreError, type StoreErrorCode } from '../../errors.ts';

/** Node socket errors that mean the server cannot be reached or went away. */
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT']);

/** pg-protocol messages of a connection that ended under a query (they carry no code). */
const GONE = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Connection ended|ended unexpectedly|socket hang up|Query read timeout/i;

function fieldOf(e: unknown, key: string): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const v = (e as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The SQLSTATE of a server error (`57P01`, `23505`, ...), or undefined.
 *
 * @example
 * ```ts
 * if (sqlState(e) === '23505') console.log('unique violation');
 * ```
 */
export function sqlState(e: unknown): string | undefined {
  const code = fieldOf(e, 'code');
  return code !== undefined && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E') ? code : undefined;
}

/**
 * True when the failure is the connection's (refused, reset, terminated, the server
 * shutting down or starting up): trying again on a new connection may succeed, and
 * a batch that failed this way during COMMIT may or may not have been committed.
 *
 * @example
 * ```ts
 * if (isConnectionFailure(e)) await retryOnNewConnection();
 * ```
 */
export function isConnectionFailure(e: unknown): boolean {
  if (isStoreError(e)) return e.code === 'STORE_UNAVAILABLE';
  const state = sqlState(e);
  if (state !== undefined) {
    // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now; 53300: too many connections
    return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03' || state === '53300';
  }
  const code = fieldOf(e, 'code');
  if (code !== undefined && NET_CODES.has(code)) return true;
  const errors = typeof e === 'object' && e !== null ? (e as { errors?: unknown }).errors : undefined;
  if (Array.isArray(errors) && errors.some((x) => isConnectionFailure(x))) return true; // AggregateError of a dual-stack connect
  const message = e instanceof Error ? e.message : '';
  return GONE.test(message);
}

/**
 * True for failures a transaction may simply be run again after (serialization
 * failure, deadlock), besides connection failures.
 *
 * @example
 * ```ts
 * if (isTransient(e)) continue;
 * ```
 */
export function isTransient(e: unknown): boolean {
  const state = sqlState(e);
  return state === '40001' || state === '40P01' || isConnectionFailure(e);
}

/**
 * Maps any failure of a store operation to a `StoreError` (a `StoreError` passes through).
 *
 * @example
 * ```ts
 * try { await pool.query(sql); } catch (e) { throw toStoreError(e, 'history', location); }
 * ```
 */
export function toStoreError(e: unknown, what: string, location: string): StoreError {
  if (isStoreError(e)) return e;
  const state = sqlState(e);
  const detail = e instanceof Error ? e.message : String(e);
  const make = (code: StoreErrorCode, message: string): StoreError => new StoreError(code, `postgres store ${location}: ${what}: ${message}`, { cause: e });
  if (isConnectionFailure(e)) return make('STORE_UNAVAILABLE', `the server is unavailable (${detail})`);
  switch (state) {
    case '53100':
      return make('STORE_FULL', `the server's disk is full (${detail})`);
    case '23505':
      return fieldOf(e, 'table') === 'llmo_runs'
        ? make('RUN_EXISTS', `a run with this id exists (${detail})`)
        : make('SEQ_CONFLICT', `an event's seq is already taken (${detail})`);
    case '28P01':
    case '28000':
    case '3D000':
    case '3F000':
      return make('STORE_INVALID', `the URL does not name a database this store can use (${detail})`);
    case '42501':
      return make('STORE_INVALID', `permission denied (${detail})`);
    case '22021':
    case '22P05':
      // a NUL (U+0000) in a value bound to a text column or parameter: PostgreSQL text cannot hold it
      return make('STORE_INVALID', `a value holds a character PostgreSQL text cannot (such as NUL, U+0000) (${detail})`);
    default:
      return new StoreError('STORE_FAILED', `postgres store ${location}: ${what} failed: ${detail}`, { cause: e, retriable: isTransient(e) });
  }
}

/**
 * Whether an error says the server session does not hold the statement prepared by name
 * (`26000`), or holds one of that name already (`42P05`): a pooler in transaction mode moved the
 * connection's statements to other server sessions. Neither ran the statement: nothing was written.
 *
 * @example
 * ```ts
 * if (isPreparedStatementError(e)) named = false; // send the commit statement unnamed from now on
 * ```
 */
export function isPreparedStatementError(e: unknown): boolean {
  const state = sqlState(e);
  return state === '26000' || state === '42P05';
}
