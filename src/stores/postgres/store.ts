/**
 * The PostgreSQL run store: many processes and workers sharing one server.
 * Writes go through the shared group-commit queue (one transaction per batch);
 * claims take leases with `FOR UPDATE SKIP LOCKED`; migrations run on open.
 * @module
 */
import pg from 'pg';
import { StoreError, isStoreError } from '../../errors.ts';
import { silentLogger } from '../../logger.ts';
import { parseOptions } from '../../runtime/options.ts';
import type { CancelRequest, ClaimRequest, NewRun, RetentionRequest, RunQuery, RunStore, StoredEvent } from '../../runtime/store.ts';
import { redactUrl } from '../url.ts';
import { checkCancel, checkClaim, checkEvents, checkRunIds, newRow } from '../rows.ts';
import { createWriteQueue } from '../write-queue.ts';
import { writeBatch, writeIdSource, writeKeys, type Write } from './commit.ts';
import { fastPlan, runFastCommit } from './fast-commit.ts';
import { historyReader } from './history.ts';
import { createStorePool } from './pool.ts';
import { isConnectionFailure, isPreparedStatementError } from './errors.ts';
import { migrate, quoteIdent } from './migrations.ts';
import { claimRuns, insertCancel, releaseLeases, renewLeases, selectCancels } from './lease-queries.ts';
import { deleteEndedRuns, selectHistoryRange, selectRun, selectRuns, warmConnection } from './run-queries.ts';
import { PostgresStoreOptionsSchema, type PostgresStoreOptions } from './store-options.ts';

export { PostgresStoreOptionsSchema } from './store-options.ts';
export type { PostgresStoreOptions } from './store-options.ts';

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
  const max = opts.pool?.max ?? 10;
  const commitsInFlight = Math.min(opts.commitsInFlight ?? 3, max);
  const { withClient, end } = createStorePool({
    url: opts.url, location, max, min: commitsInFlight, connectTimeoutMs: opts.connectTimeoutMs ?? 5_000, retryMs: opts.retryMs ?? 10_000,
    answerTimeoutMs: opts.answerTimeoutMs ?? 30_000, jit: opts.jit === true, log,
  });

  try {
    await withClient('migrate', async (c) => {
      const applied = await migrate(c, schema);
      if (applied.length > 0) log.info({ schema, applied }, 'postgres store: migrations applied');
    }, false, true);
    // The connections the commits use open now, not under the first wave of runs, and stay open
    // (the pool's min): a fresh process's first commits had waited on connects and cold catalogs.
    await Promise.all(Array.from({ length: commitsInFlight }, () => withClient('open', (c) => warmConnection(c, s), false)));
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
    concurrency: commitsInFlight,
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
    getRun: (runId) => read('getRun', (c) => selectRun(c, s, runId)),
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
      return read('history', (c) => selectHistoryRange(c, s, runId, range));
    },
    listRuns: (query: RunQuery = {}) => read('listRuns', (c) => selectRuns(c, s, query)),
    claim: async (request: ClaimRequest) => {
      open();
      checkClaim(request);
      if (request.limit === 0) return [];
      return read('claim', (c) => claimRuns(c, s, request), true).then((claimed) => {
        // Their histories are what a claimer reads next (recovery): fetch them ahead, in order.
        // Running runs only: nobody but the lease holder writes those.
        histories.readAhead(claimed.filter((r) => r.status === 'running').map((r) => r.runId));
        return claimed;
      });
    },
    renew: (owner, runIds, leaseMs, now) => read('renew', (c) => renewLeases(c, s, owner, runIds, leaseMs, now)),
    async release(owner, runIds) {
      open();
      if (runIds.length === 0) return;
      // What this process queued for these runs lands before another process may claim them.
      await queue.flush();
      await read('release', (c) => releaseLeases(c, s, owner, runIds));
    },
    deleteRuns: (request: RetentionRequest) => read('deleteRuns', (c) => deleteEndedRuns(c, s, request), true, true),
    async requestCancel(request: CancelRequest) {
      open();
      checkCancel(request);
      return read('requestCancel', (c) => insertCancel(c, s, request));
    },
    async cancelRequests(runIds: readonly string[]) {
      open();
      checkRunIds(runIds);
      return read('cancelRequests', (c) => selectCancels(c, s, runIds));
    },
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

