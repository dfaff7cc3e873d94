/**
 * PostgreSQL connections: {@link createPgPool}, the one way every PostgreSQL-backed part makes
 * its pool (a connect timeout, JIT off per session unless asked), and the run store's pool
 * (int8 as numbers) with `withClient`, which runs work on a pooled connection, in a transaction
 * when asked, and again on a new connection while the server is unavailable.
 * @module
 */
import pg from 'pg';
import * as z from 'zod';
import { isStoreError } from '../../errors.ts';
import { isLogger, type Logger } from '../../logger.ts';
import { sleep } from '../../primitives/sleep.ts';
import { isConnectionFailure, isTransient, toStoreError } from './errors.ts';

/** int8 columns (epoch ms) as numbers; everything else as pg parses it. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * How {@link createStorePool} connects (the store's options, already checked).
 *
 * @example
 * ```ts
 * const options: StorePoolOptions = { url, location: redactUrl(url), max: 10, connectTimeoutMs: 5_000, retryMs: 10_000, answerTimeoutMs: 30_000, jit: false, log };
 * ```
 */
export interface StorePoolOptions {
  readonly url: string;
  /** The URL without its password (for errors). */
  readonly location: string;
  readonly max: number;
  /** Idle connections kept open however long they idle (the rest close after 10 s idle). Default 0. */
  readonly min?: number;
  readonly connectTimeoutMs: number;
  /** How long work is retried on new connections while the server is unavailable. */
  readonly retryMs: number;
  /**
   * How long one piece of bounded work may wait for the server (0: no limit). Past it, its
   * connection is closed and the work fails as a lost connection (retried while `retryMs`
   * allows, then `STORE_UNAVAILABLE`): a server that stopped answering is an error, not a stall.
   */
  readonly answerTimeoutMs: number;
  /** Whether the server may JIT-compile this pool's queries (false: `SET jit = off` per connection). */
  readonly jit: boolean;
  readonly log: Logger;
}

/**
 * A pool and the one way the store uses it.
 *
 * @example
 * ```ts
 * const { withClient, end } = createStorePool(options);
 * const n = await withClient('count', async (c) => (await c.query('SELECT 1')).rowCount, false);
 * await end();
 * ```
 */
export interface StorePool {
  /**
   * Runs `fn` on a pooled connection (inside `BEGIN`/`COMMIT` when `transaction`), on a new
   * one again while the server is unavailable (up to `retryMs`); other errors reject as
   * StoreErrors naming `what`. A connection that failed is destroyed, never reused. Unless
   * `unbounded` (retention deletes, migrations), an attempt that waits longer than
   * `answerTimeoutMs` for the server closes its connection and counts as a lost connection.
   */
  withClient<T>(what: string, fn: (c: pg.PoolClient) => Promise<T>, transaction: boolean, unbounded?: boolean): Promise<T>;
  /** Closes every connection. */
  end(): Promise<void>;
}

/**
 * The connection options every PostgreSQL-backed part besides the run store takes (the budget
 * ledger, the key store), as a zod shape their option schemas spread.
 *
 * @example
 * ```ts
 * const Schema = z.strictObject({ ...PG_PART_OPTIONS, retries: z.number().int().nonnegative().optional() });
 * ```
 */
export const PG_PART_OPTIONS = {
  url: z.string().regex(/^postgres(?:ql)?:\/\//i, 'expected a postgres:// URL'),
  schema: z.string().regex(/^[a-z_][a-z0-9_]*$/i, 'expected a plain SQL identifier').optional(),
  poolMax: z.number().int().positive().optional(),
  connectTimeoutMs: z.number().int().positive().optional(),
  queryTimeoutMs: z.number().int().positive().optional(),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
} as const;

/**
 * How {@link createPgPool} connects.
 *
 * @example
 * ```ts
 * const o: PgPoolOptions = { url, max: 4, connectTimeoutMs: 5_000, queryTimeoutMs: 30_000, application: 'llmo-keys', jit: false, log, what: 'key store' };
 * ```
 */
export interface PgPoolOptions {
  readonly url: string;
  readonly max: number;
  /** Idle connections kept open however long they idle (the rest close after 10 s idle). Default 0. */
  readonly min?: number;
  /** How long opening a connection may take (a server that accepts and never answers fails after this, not never). */
  readonly connectTimeoutMs: number;
  /** `application_name` (shown in `pg_stat_activity`). */
  readonly application: string;
  /**
   * Longest one query waits for the server's answer (`pg`'s `query_timeout`; omitted: no limit).
   * Its error counts as a lost connection ({@link isConnectionFailure}), so the connection is
   * dropped, not reused. The run store bounds whole attempts itself (`answerTimeoutMs`) instead.
   */
  readonly queryTimeoutMs?: number;
  /** Whether the server may JIT-compile this pool's queries (false: `SET jit = off` per connection). */
  readonly jit: boolean;
  readonly log: Logger;
  /** What the pool serves, in its warnings (e.g. `postgres store`). */
  readonly what: string;
  readonly types?: pg.CustomTypesConfig;
}

/**
 * The one way a PostgreSQL-backed part (the run store, the budget ledger, the audit and key
 * stores) makes its `pg` pool: a connect timeout, its application name, JIT off per session
 * unless asked (by a statement run when a connection opens, before it is handed out: pg-pool's
 * `onConnect`; not the `options` startup parameter, which PgBouncer and pooled endpoints refuse), and an idle connection that
 * fails (a server restart) warned about; the pool discards it and the next query reconnects.
 *
 * @example
 * ```ts
 * const pool = createPgPool({ url, max: 4, connectTimeoutMs: 5_000, application: 'llmo-keys', jit: false, log, what: 'key store' });
 * ```
 */
export function createPgPool(o: PgPoolOptions): pg.Pool {
  const { log, what } = o;
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.max,
    ...(o.min === undefined ? {} : { min: o.min }),
    connectionTimeoutMillis: o.connectTimeoutMs,
    application_name: o.application,
    ...(o.queryTimeoutMs === undefined ? {} : { query_timeout: o.queryTimeoutMs }),
    ...(o.types === undefined ? {} : { types: o.types }),
    // Run when a connection opens, before it is handed out (a statement queued behind the first
    // query instead, from the pool's 'connect' event, is deprecated by pg and goes in pg 9).
    ...(o.jit ? {} : { onConnect: (c: pg.ClientBase) => jitOff(c, o.connectTimeoutMs, log, what) }),
  });
  pool.on('error', (e) => log.warn({ err: e }, `${what}: an idle connection failed (it is discarded)`));
  return pool;
}

/**
 * `SET jit = off` on a new connection, bounded by `ms`. A connection that fails or does not answer
 * is not handed out (the checkout fails as a lost connection, which callers retry); a server that
 * refuses the SET is warned about, and queries then run as its settings say (slower on fresh
 * tables, still correct).
 */
async function jitOff(c: pg.ClientBase, ms: number, log: Logger, what: string): Promise<void> {
  try {
    await c.query({ text: 'SET jit = off', query_timeout: ms } as pg.QueryConfig);
  } catch (e) {
    if (isConnectionFailure(e)) throw e;
    log.warn({ err: e }, `${what}: turning JIT off for a connection failed; its queries may be JIT-compiled`);
  }
}

/** The error of an attempt whose connection was closed because the server did not answer in time (a lost connection). */
function noAnswer(what: string, ms: number, cause: unknown): Error {
  return Object.assign(new Error(`Connection terminated: the server did not answer ${what} within ${ms} ms`, { cause }), { code: 'ETIMEDOUT' });
}

/**
 * Creates the store's {@link StorePool}.
 *
 * @example
 * ```ts
 * const pool = createStorePool({ url, location, max: 10, connectTimeoutMs: 5_000, retryMs: 10_000, answerTimeoutMs: 30_000, jit: false, log });
 * ```
 */
export function createStorePool(o: StorePoolOptions): StorePool {
  const { log, location, retryMs } = o;
  const pool = createPgPool({ url: o.url, max: o.max, ...(o.min === undefined ? {} : { min: o.min }), connectTimeoutMs: o.connectTimeoutMs, application: 'llmo', jit: o.jit, log, what: 'postgres store', types: TYPES });

  // A connection in use whose server goes away (a restart, pg_terminate_backend) between two of
  // its queries emits 'error' with no query to fail: noted here; its next query fails and it is discarded.
  const inUseFailed = (e: Error): void => log.warn({ err: e }, 'postgres store: a connection in use failed');
  const give = (c: pg.PoolClient, destroy?: boolean): void => {
    c.off('error', inUseFailed);
    c.release(destroy);
  };
  const withClient = async <T>(what: string, fn: (c: pg.PoolClient) => Promise<T>, transaction: boolean, unbounded = false): Promise<T> => {
    const deadline = Date.now() + retryMs;
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient | undefined;
      let broken = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let unanswered = false;
      try {
        client = await pool.connect();
        client.on('error', inUseFailed);
        if (!unbounded && o.answerTimeoutMs > 0) {
          const c = client;
          // Closing the connection fails the query in flight ("Connection terminated"): a lost connection.
          timer = setTimeout(() => {
            unanswered = true;
            log.warn({ what, ms: o.answerTimeoutMs }, 'postgres store: the server did not answer in time; closing the connection');
            c.end().catch(() => undefined);
          }, o.answerTimeoutMs);
        }
        if (!transaction) {
          const r = await fn(client);
          give(client);
          return r;
        }
        await client.query('BEGIN');
        try {
          const r = await fn(client);
          await client.query('COMMIT');
          give(client);
          return r;
        } catch (e) {
          if (!isConnectionFailure(e)) {
            await client.query('ROLLBACK').catch((err: unknown) => {
              broken = true; // the original error is what the caller needs; this connection is not reused
              log.warn({ err }, 'postgres store: ROLLBACK failed');
            });
          }
          throw e;
        }
      } catch (caught) {
        const e = unanswered ? noAnswer(what, o.answerTimeoutMs, caught) : caught;
        // A connection that failed is destroyed, never handed back to the pool.
        if (client !== undefined) give(client, broken || isConnectionFailure(e) ? true : undefined);
        if (isTransient(e) && !isStoreError(e) && Date.now() < deadline) {
          if (attempt === 0) log.warn({ err: e, what }, 'postgres store: the server is unavailable; retrying on a new connection');
          await sleep(Math.min(1_000, 50 * 2 ** attempt));
          continue;
        }
        throw toStoreError(e, what, location);
      } finally {
        clearTimeout(timer);
      }
    }
  };
  return { withClient, end: () => pool.end() };
}
