/**
 * The PostgreSQL run store: many processes and workers sharing one server.
 * Writes go through the shared group-commit queue (one transaction per batch);
 * claims take leases with `FOR UPDATE SKIP LOCKED`; migrations run on open.
 * @module
 */
import pg from 'pg';
import * as z from 'zod';
import { StoreError, isStoreError } from '../../errors.ts';
import { isLogger, silentLogger, type Logger } from '../../logger.ts';
import { parseOptions } from '../../runtime/options.ts';
import type { ClaimRequest, NewRun, RetentionRequest, RunQuery, RunStore, StoredEvent } from '../../runtime/store.ts';
import { redactUrl } from '../url.ts';
import { ENDED, checkClaim, checkEvents, newRow, runNotFound, toRecord } from '../rows.ts';
import { decodeCursor, encodeCursor, pageLimit } from '../paging.ts';
import { createWriteQueue } from '../write-queue.ts';
import { writeBatch, writeIdSource, writeKeys, type Write } from './commit.ts';
import { fastPlan, runFastCommit } from './fast-commit.ts';
import { historyReader } from './history.ts';
import { createStorePool } from './pool.ts';
import { isConnectionFailure, isPreparedStatementError } from './errors.ts';
import { migrate, quoteIdent } from './migrations.ts';
import { RUN_COLUMNS, fromSql, type RunsRow } from './rows.ts';

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
   * writes still commit in order.
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

/**
 * Opens a PostgreSQL run store: connects, runs the migrations (under an advisory
 * lock), and resolves once it can be used. Rejects with `STORE_TOO_NEW` for a
 * database a newer build wrote, `STORE_UNAVAILABLE` when the server cannot be reached.
 *
 * @example
 * ```ts
 * const store = await createPostgresStore({ url: 'postgres://llmo:llmo@127.0.0.1:55432/llmo', logger });
 * await store.createRun({ runId: 'r1', topology: 'rag', version, input, createdAt: Date.now(), owner, leaseMs: 15_000 });
 * await store.close();
 * ```
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<RunStore> {
  const opts = parseOptions(PostgresStoreOptionsSchema, options, 'createPostgresStore options');
  const location = redactUrl(opts.url);
  const log = (opts.logger ?? silentLogger).child({ component: 'postgres-store', location });
  const schema = opts.schema ?? 'public';
  const s = quoteIdent(schema);
  const { withClient, end } = createStorePool({
    url: opts.url, location, max: opts.pool?.max ?? 10, connectTimeoutMs: opts.connectTimeoutMs ?? 5_000, retryMs: opts.retryMs ?? 10_000,
    answerTimeoutMs: opts.answerTimeoutMs ?? 30_000, jit: opts.jit === true, log,
  });

  try {
    await withClient('migrate', async (c) => {
      const applied = await migrate(c, schema);
      if (applied.length > 0) log.info({ schema, applied }, 'postgres store: migrations applied');
    }, false, true);
  } catch (e) {
    await end().catch((err: unknown) => log.warn({ err }, 'postgres store: closing the pool failed'));
    throw e;
  }

  /** Whether the commit statement is prepared by name (false once a pooler showed it does not keep them). */
  let named = true;
  const queue = createWriteQueue<Write>({
    commit: async (batch) => {
      // One statement when the batch allows it; the full path (rows locked and read) when it
      // does not, or when that statement failed for anything but a lost connection.
      const plan = fastPlan(batch);
      if (plan !== undefined) {
        for (;;) {
          const use = named;
          const outcome = await withClient('commit', (c) => runFastCommit(c, s, plan, use).then(() => 'done' as const, (e: unknown) => {
            if (isConnectionFailure(e)) throw e;
            return use && isPreparedStatementError(e) ? 'unnamed' as const : 'full' as const;
          }), false);
          if (outcome === 'done') return;
          if (outcome === 'full') break;
          // A pooler in transaction mode: this connection's prepared statements live on server
          // sessions it no longer has. The statement did not run; send it unnamed from now on.
          if (named) log.warn('postgres store: a pooler in transaction mode does not keep prepared statements; the commit statement is sent unnamed from now on');
          named = false;
        }
      }
      await withClient('commit', (c) => writeBatch(c, s, batch), true);
    },
    // Flush in the same tick: writes made together (an engine flushes all its runs' journals at
    // once) still share one batch, and no extra macrotask stands between a node and its commit.
    schedule: queueMicrotask,
    maxBatch: opts.maxBatch ?? 1000,
    // Several commits overlap their round trips; a run's writes never ride in two at once.
    concurrency: Math.min(opts.commitsInFlight ?? 3, opts.pool?.max ?? 10),
    keys: writeKeys,
    // A server that went away, or a full disk, fails every write alike: no point re-running one by one.
    isolate: (e) => !(isStoreError(e) && (e.code === 'STORE_UNAVAILABLE' || e.code === 'STORE_FULL')),
    what: `postgres store ${location}`,
  });
  const nextWriteId = writeIdSource();
  let closed = false;
  let closing: Promise<void> | undefined;
  const open = (): void => {
    if (closed) throw new StoreError('STORE_CLOSED', `postgres store ${location} is closed`);
  };
  const read = async <T>(what: string, fn: (c: pg.PoolClient) => Promise<T>, transaction = false, unbounded = false): Promise<T> => {
    open();
    return withClient(what, fn, transaction, unbounded);
  };

  const histories = historyReader((fn) => read('history', fn), s);

  return {
    kind: 'postgres',
    location,
    async createRun(run: NewRun) {
      open();
      const row = newRow(run);
      if (histories.active) histories.forget(run.runId);
      await queue.push({ kind: 'create', id: nextWriteId(), run, row });
    },
    async append(events: readonly StoredEvent[]) {
      open();
      checkEvents(events);
      if (events.length === 0) return;
      if (histories.active) for (const e of events) histories.forget(e.runId);
      await queue.push({ kind: 'append', id: nextWriteId(), events });
    },
    getRun: (runId) =>
      read('getRun', async (c) => {
        const r = await c.query<RunsRow>(`SELECT ${RUN_COLUMNS} FROM ${s}.llmo_runs r WHERE r.run_id = $1`, [runId]);
        const row = r.rows[0];
        return row === undefined ? undefined : toRecord(fromSql(row));
      }),
    history: (runId, range = {}) => {
      // A whole history (recovery reads many at once): batched with the others asked in this turn.
      if (range.fromSeq === undefined && range.toSeq === undefined && range.untilTs === undefined) {
        try {
          open();
        } catch (e) {
          return Promise.reject(e);
        }
        return histories.read(runId);
      }
      return read('history', async (c) => {
        const r = await c.query<{ body: StoredEvent }>(
          `SELECT body FROM ${s}.llmo_events WHERE run_id = $1 AND seq >= $2 AND ($3::int IS NULL OR seq <= $3) AND ($4::bigint IS NULL OR ts <= $4) ORDER BY seq`,
          [runId, range.fromSeq ?? 0, range.toSeq ?? null, range.untilTs ?? null],
        );
        if (r.rows.length === 0) {
          const exists = await c.query(`SELECT 1 FROM ${s}.llmo_runs WHERE run_id = $1`, [runId]);
          if (exists.rowCount === 0) throw runNotFound(runId);
        }
        return r.rows.map((x) => x.body);
      });
    },
    listRuns: (query: RunQuery = {}) =>
      read('listRuns', async (c) => {
        const limit = pageLimit(query);
        const where: string[] = [];
        const params: unknown[] = [];
        const p = (v: unknown): string => {
          params.push(v);
          return `$${params.length}`;
        };
        if (query.status !== undefined) where.push(`r.status = ANY(${p([...query.status])}::text[])`);
        if (query.topology !== undefined) where.push(`r.topology = ${p(query.topology)}`);
        if (query.tenant !== undefined) where.push(`r.tenant = ${p(query.tenant)}`);
        if (query.cursor !== undefined) {
          const after = decodeCursor(query.cursor);
          const at = p(after.createdAt);
          where.push(`(r.created_at < ${at} OR (r.created_at = ${at} AND r.run_id COLLATE "C" < ${p(after.runId)}))`);
        }
        const r = await c.query<RunsRow>(
          `SELECT ${RUN_COLUMNS} FROM ${s}.llmo_runs r ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY r.created_at DESC, r.run_id COLLATE "C" DESC LIMIT ${p(limit + 1)}`,
          params,
        );
        const runs = r.rows.slice(0, limit).map((row) => toRecord(fromSql(row)));
        const last = runs[runs.length - 1];
        return r.rows.length > limit && last !== undefined ? { runs, next: encodeCursor({ createdAt: last.createdAt, runId: last.runId }) } : { runs };
      }),
    claim: async (request: ClaimRequest) => {
      open();
      checkClaim(request);
      if (request.limit === 0) return [];
      return read('claim', async (c) => {
        const filters = [p2(request.topologies), p2(request.runIds)] as const;
        let dead: string[] = [];
        if (request.isDead !== undefined) {
          const owners = await c.query<{ lease_owner: string }>(
            `SELECT DISTINCT lease_owner FROM ${s}.llmo_runs WHERE status IN ('running', 'waiting') AND lease_owner IS NOT NULL AND lease_until > $1
               AND ($2::text[] IS NULL OR topology = ANY($2)) AND ($3::text[] IS NULL OR run_id = ANY($3))`,
            [request.now, ...filters],
          );
          const isDead = request.isDead;
          dead = owners.rows.map((r) => r.lease_owner).filter((o) => isDead(o));
        }
        const r = await c.query<RunsRow>(
          `WITH c AS (
             SELECT run_id FROM ${s}.llmo_runs
             WHERE (lease_owner IS NULL OR lease_until IS NULL OR lease_until <= $1 OR lease_owner = ANY($2::text[]))
               AND (status = 'running' OR ($3::boolean AND status = 'waiting' AND (signalled OR wait_timeout_at <= $1)))
               AND ($4::text[] IS NULL OR topology = ANY($4)) AND ($5::text[] IS NULL OR run_id = ANY($5))
             ORDER BY created_at, run_id
             LIMIT $6
             FOR UPDATE SKIP LOCKED)
           UPDATE ${s}.llmo_runs r SET lease_owner = $7, lease_until = $1::bigint + $8::bigint FROM c WHERE r.run_id = c.run_id
           RETURNING ${RUN_COLUMNS}`,
          [request.now, dead, request.wakeable === true, ...filters, request.limit, request.owner, request.leaseMs],
        );
        return r.rows.map((row) => toRecord(fromSql(row))).sort((a, b) => a.createdAt - b.createdAt || (a.runId < b.runId ? -1 : 1));
      }, true).then((claimed) => {
        // Their histories are what a claimer reads next (recovery): fetch them ahead, in order.
        // Running runs only: nobody but the lease holder writes those.
        histories.readAhead(claimed.filter((r) => r.status === 'running').map((r) => r.runId));
        return claimed;
      });
    },
    renew: (owner, runIds, leaseMs, now) =>
      read('renew', async (c) => {
        if (runIds.length === 0) return [];
        const r = await c.query<{ run_id: string }>(
          `UPDATE ${s}.llmo_runs SET lease_until = $3::bigint + $4::bigint
           WHERE lease_owner = $1 AND run_id = ANY($2::text[]) AND status IN ('running', 'waiting') RETURNING run_id`,
          [owner, [...runIds], now, leaseMs],
        );
        const held = new Set(r.rows.map((x) => x.run_id));
        return runIds.filter((id) => held.has(id));
      }),
    async release(owner, runIds) {
      open();
      if (runIds.length === 0) return;
      // What this process queued for these runs lands before another process may claim them.
      await queue.flush();
      await read('release', (c) =>
        c.query(`UPDATE ${s}.llmo_runs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND run_id = ANY($2::text[])`, [owner, [...runIds]]),
      );
    },
    deleteRuns: (request: RetentionRequest) =>
      read('deleteRuns', async (c) => {
        if (!Number.isFinite(request.endedBefore)) throw new StoreError('STORE_INVALID', 'deleteRuns: endedBefore is invalid');
        const statuses = request.status ?? ENDED;
        const r = await c.query<{ n: number }>(
          `WITH d AS (DELETE FROM ${s}.llmo_runs WHERE status = ANY($1::text[]) AND status IN ('completed', 'failed', 'cancelled') AND updated_at < $2 RETURNING run_id),
                e AS (DELETE FROM ${s}.llmo_events WHERE run_id IN (SELECT run_id FROM d))
           SELECT count(*)::int AS n FROM d`,
          [[...statuses], request.endedBefore],
        );
        return r.rows[0]?.n ?? 0;
      }, true, true),
    close() {
      closing ??= (async () => {
        await queue.close();
        closed = true;
        histories.clear();
        await end();
      })();
      return closing;
    },
  };
}

/** An optional id list as a SQL parameter (NULL for no filter). */
function p2(ids: readonly string[] | undefined): string[] | null {
  return ids === undefined ? null : [...ids];
}
