/**
 * Options of the PostgreSQL run store: the {@link PostgresStoreOptions} interface
 * `createPostgresStore` takes, and the zod schema it is checked against.
 * @module
 */
import * as z from 'zod';
import { isLogger, type Logger } from '../../logger.ts';

/**
 * Schema of {@link PostgresStoreOptions}.
 *
 * @example
 * ```ts
 * PostgresStoreOptionsSchema.parse({ url: 'postgres://llmo:llmo@127.0.0.1:55432/llmo', schema: 'llmo' });
 * ```
 */
export const PostgresStoreOptionsSchema = z.strictObject({
  url: z.string().regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL'),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  pool: z.strictObject({ max: z.number().int().positive().optional() }).optional(),
  schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier').optional(),
  maxBatch: z.number().int().positive().optional(),
  commitsInFlight: z.number().int().positive().optional(),
  retryMs: z.number().int().nonnegative().optional(),
  connectTimeoutMs: z.number().int().positive().optional(),
  answerTimeoutMs: z.number().int().nonnegative().optional(),
  jit: z.boolean().optional(),
});

/**
 * Options of {@link createPostgresStore}.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { url: process.env.LLMO_STORE!, pool: { max: 10 }, logger };
 * ```
 */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (the `pg` connection string). */
  readonly url: string;
  readonly logger?: Logger;
  /** Connections: default 10. */
  readonly pool?: { readonly max?: number };
  /** The SQL schema of the tables (created when missing). Default `public`. */
  readonly schema?: string;
  /** Most writes per commit (default 1000). */
  readonly maxBatch?: number;
  /**
   * Most group commits in flight at once, each on its own connection (default 3, at most
   * the pool size). Two commits in flight never hold writes of the same run, so each run's
   * writes still commit in order. That many connections open with the store and stay open;
   * the rest of the pool opens on demand and closes after 10 s idle.
   */
  readonly commitsInFlight?: number;
  /**
   * How long a batch (and a read) is retried, on new connections, while the server is
   * unreachable (a restart, a failover) before it rejects with `STORE_UNAVAILABLE`. Default 10 000.
   */
  readonly retryMs?: number;
  /** Time to open a connection (default 5 000). */
  readonly connectTimeoutMs?: number;
  /**
   * Longest a write or read waits for the server (default 30 000; 0: no limit). A server that
   * stopped answering (paused, frozen, behind a dead network path) would otherwise stall every
   * durable run silently; past this, the connection is closed and the work fails as a lost
   * connection: retried on new connections for `retryMs`, then `STORE_UNAVAILABLE`. A commit
   * cut off this way may still have been applied: the store's writes are idempotent, so its
   * retry (or a recovery) finds it. Retention deletes and migrations have no limit.
   */
  readonly answerTimeoutMs?: number;
  /**
   * Whether the server may JIT-compile this store's queries. Default `false`: each new
   * connection runs `SET jit = off` before its first query. The store's statements are
   * short, and on tables that just grew (no statistics yet) the planner's estimates pass
   * `jit_above_cost`, so compiling took 80 of a 95 ms history read. `true` leaves the
   * server's setting (one statement less per connection).
   */
  readonly jit?: boolean;
}
