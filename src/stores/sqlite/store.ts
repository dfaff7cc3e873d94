/**
 * The embedded run store: one SQLite file (better-sqlite3), no server.
 * @module
 */
import Database from 'better-sqlite3';
import * as z from 'zod';
import { StoreError, isStoreError } from '../../errors.ts';
import { isLogger, silentLogger, type Logger } from '../../logger.ts';
import { parseOptions } from '../../runtime/options.ts';
import type { ClaimRequest, NewRun, RunRecord, RunStore, StoredEvent } from '../../runtime/store.ts';
import { ENDED, checkCancel, checkClaim, checkEvents, checkRunIds, newRow, runNotFound, toRecord, type RunRow } from '../rows.ts';
import { decodeCursor, encodeCursor, pageLimit } from '../paging.ts';
import { createWriteQueue } from '../write-queue.ts';
import { sqliteCode, toStoreError } from './errors.ts';
import { checkStoreFile } from './file.ts';
import { createCommit, type Write } from './commit.ts';
import { APPLICATION_ID, SCHEMA_VERSION, migrate, tooNew } from './schema.ts';
import { eventsOf, type EventRow } from './event-rows.ts';
import { fromSql, prepare, type SqlRun, type Statements } from './statements.ts';

/**
 * Schema of {@link SqliteStoreOptions}.
 *
 * @example
 * ```ts
 * SqliteStoreOptionsSchema.parse({ path: 'runs.db', durability: 'power' });
 * ```
 */
export const SqliteStoreOptionsSchema = z.strictObject({
  path: z.string().min(1),
  logger: z.custom<Logger>(isLogger, 'expected a pino logger (or one with child, error, warn, info, debug)').optional(),
  nativeBinding: z.string().min(1).optional(),
  busyTimeoutMs: z.number().int().nonnegative().optional(),
  durability: z.enum(['process', 'power']).optional(),
  maxSizeBytes: z.number().int().positive().optional(),
  maxBatch: z.number().int().positive().optional(),
});

/**
 * Options of {@link createSqliteStore}.
 *
 * @example
 * ```ts
 * const options: SqliteStoreOptions = { path: 'runs.db', durability: 'process', busyTimeoutMs: 5000 };
 * ```
 */
export interface SqliteStoreOptions {
  /** The database file; created (with its schema) when missing. */
  readonly path: string;
  /** pino logger; the store logs migrations. Default: silent. */
  readonly logger?: Logger;
  /** Path of a `better_sqlite3.node` built for the running Node (when node_modules holds one for another ABI). */
  readonly nativeBinding?: string;
  /** How long a write or claim waits for another process holding the file before `STORE_UNAVAILABLE`. Default 5000. */
  readonly busyTimeoutMs?: number;
  /**
   * `process` (default): WAL with `synchronous=NORMAL`; an acknowledged write survives the process being
   * killed (`kill -9`, a crash) but the last commits may be lost if the machine loses power or the OS crashes.
   * `power`: `synchronous=FULL`, every commit is fsynced: acknowledged writes survive power loss too, at the
   * cost of one fsync per batch.
   */
  readonly durability?: 'process' | 'power';
  /** Caps the file's size; a write beyond it fails with `STORE_FULL` (as a full disk does). Default: no cap. */
  readonly maxSizeBytes?: number;
  /** Most writes (createRun/append calls) per commit. Default 1000. */
  readonly maxBatch?: number;
}

function openDatabase(o: SqliteStoreOptions, log: Logger): Database.Database {
  checkStoreFile(o.path);
  let db: Database.Database;
  try {
    db = new Database(o.path, { timeout: o.busyTimeoutMs ?? 5000, ...(o.nativeBinding === undefined ? {} : { nativeBinding: o.nativeBinding }) });
  } catch (e) {
    if (sqliteCode(e) !== undefined) throw toStoreError(e, 'open', o.path);
    throw new StoreError('STORE_FAILED', `run store ${o.path}: cannot load SQLite (better-sqlite3's native addon; pass nativeBinding built for Node ${process.version}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    // Read before anything writes: a file that is not ours, or is newer, is refused untouched.
    const version = db.pragma('user_version', { simple: true }) as number;
    const appId = db.pragma('application_id', { simple: true }) as number;
    const tables = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
    if (version > SCHEMA_VERSION && appId === APPLICATION_ID) throw tooNew(o.path, version);
    if (tables > 0 && appId !== APPLICATION_ID) {
      throw new StoreError('STORE_CORRUPT', `run store ${o.path} is a SQLite database of another application (application_id ${appId}); it was left as it is`);
    }
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${o.durability === 'power' ? 'FULL' : 'NORMAL'}`);
    if (o.maxSizeBytes !== undefined) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.max(1, Math.floor(o.maxSizeBytes / pageSize))}`);
    }
    migrate(db, o.path, log);
    return db;
  } catch (e) {
    db.close();
    throw toStoreError(e, 'open', o.path);
  }
}

/**
 * Opens (creating and migrating when needed) the embedded run store: one SQLite file
 * in WAL mode. Refuses, leaving the file untouched, a file that is not a run store or
 * is truncated (`STORE_CORRUPT`) and one from a newer build (`STORE_TOO_NEW`).
 *
 * Writes (`createRun`, `append`) are group-committed: every write made in one tick
 * commits in one transaction on the next macrotask, and resolves once committed.
 * Claims, renewals and releases are immediate transactions (`BEGIN IMMEDIATE`), so
 * processes sharing the file never claim the same run. What an acknowledged write
 * survives: with `durability: 'process'` (default), the process being killed (`kill -9`,
 * a crash, an OOM kill), not a power loss or OS crash (the last commits may be lost, the
 * file stays consistent); with `durability: 'power'`, both (one fsync per commit). Calls are synchronous on this thread (better-sqlite3);
 * while another process holds the write lock they wait up to `busyTimeoutMs`.
 *
 * @example
 * ```ts
 * const store = createSqliteStore({ path: 'runs.db', logger: pino() });
 * await store.createRun({ runId: 'r1', topology: 'rag', version, input, createdAt: Date.now(), owner, leaseMs: 15_000 });
 * ```
 */
export function createSqliteStore(options: SqliteStoreOptions): RunStore {
  const o = parseOptions(SqliteStoreOptionsSchema, options, 'createSqliteStore options') as SqliteStoreOptions;
  const location = o.path;
  const log = (o.logger ?? silentLogger).child({ component: 'sqlite-store' });
  const db = openDatabase(o, log);
  const stmts: Statements = prepare(db);
  let closed = false;

  /** Runs `fn` in one immediate transaction, mapping every failure to a StoreError. */
  const inTransaction = <T>(what: string, fn: () => T): T => {
    try {
      return db.transaction(fn).immediate();
    } catch (e) {
      throw toStoreError(e, what, location);
    }
  };
  const read = <T>(what: string, fn: () => T): T => {
    if (closed) throw new StoreError('STORE_CLOSED', `run store ${location} is closed`);
    try {
      return fn();
    } catch (e) {
      throw toStoreError(e, what, location);
    }
  };
  const loadRow = (runId: string): RunRow | undefined => {
    const r = stmts.getRun.get(runId) as SqlRun | undefined;
    return r === undefined ? undefined : fromSql(r, location);
  };

  const commit = createCommit(db, stmts, location);
  const queue = createWriteQueue<Write>({
    commit,
    // Flush in the same tick: writes made together (an engine flushes all its runs' journals at
    // once) still share one batch, and no extra macrotask stands between a node and its commit.
    schedule: queueMicrotask,
    what: `run store ${location}`,
    ...(o.maxBatch === undefined ? {} : { maxBatch: o.maxBatch }),
    isolate: (e) => !(isStoreError(e) && (e.code === 'STORE_UNAVAILABLE' || e.code === 'STORE_CORRUPT')),
  });

  const push = async (w: Write): Promise<void> => {
    if (closed) throw new StoreError('STORE_CLOSED', `run store ${location} is closed`);
    return queue.push(w);
  };

  return {
    kind: 'sqlite',
    location,

    async createRun(run: NewRun) {
      const row = newRow(run);
      return push(run.events === undefined || run.events.length === 0 ? { kind: 'create', row } : { kind: 'create', row, events: run.events });
    },

    async append(events) {
      checkEvents(events);
      return push({ kind: 'append', events });
    },

    async getRun(runId) {
      return read('getRun', () => {
        const row = loadRow(runId);
        return row === undefined ? undefined : toRecord(row);
      });
    },

    async history(runId, range = {}) {
      return read('history', () => {
        const from = range.fromSeq ?? 0;
        const to = range.toSeq ?? Number.MAX_SAFE_INTEGER;
        const until = range.untilTs ?? null;
        const rows = stmts.history.all({ run_id: runId, from, to, until }) as EventRow[];
        if (rows.length === 0 && stmts.head.get(runId) === undefined) throw runNotFound(runId);
        const events: StoredEvent[] = [];
        for (const r of rows) eventsOf(runId, r, location, events);
        // a row may hold several events: keep those in range
        return events.filter((e) => e.seq >= from && e.seq <= to && (until === null || e.ts <= until));
      });
    },

    async listRuns(query = {}) {
      return read('listRuns', () => {
        const limit = pageLimit(query);
        const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
        const found = (stmts.list.all({
          statuses: query.status === undefined ? null : JSON.stringify(query.status),
          topology: query.topology ?? null, tenant: query.tenant ?? null,
          after_created: after?.createdAt ?? null, after_id: after?.runId ?? null, limit: limit + 1,
        }) as SqlRun[]).map((r) => fromSql(r, location));
        const runs = found.slice(0, limit).map(toRecord);
        const last = runs[runs.length - 1];
        return found.length > limit && last !== undefined ? { runs, next: encodeCursor(last) } : { runs };
      });
    },

    async claim(request: ClaimRequest) {
      read('claim', () => checkClaim(request));
      return inTransaction('claim', () => {
        const dead = request.isDead === undefined ? [] : (stmts.liveOwners.all({ now: request.now }) as string[]).filter((w) => request.isDead?.(w));
        const rows = (stmts.claimable.all({
          now: request.now, wakeable: request.wakeable === true ? 1 : 0, dead: JSON.stringify(dead),
          topologies: request.topologies === undefined ? null : JSON.stringify(request.topologies),
          run_ids: request.runIds === undefined ? null : JSON.stringify(request.runIds), limit: request.limit,
        }) as SqlRun[]).map((r) => fromSql(r, location));
        const until = request.now + request.leaseMs;
        return rows.map((row): RunRecord => {
          stmts.lease.run({ owner: request.owner, until, run_id: row.runId });
          return toRecord({ ...row, leaseOwner: request.owner, leaseUntil: until });
        });
      });
    },

    async renew(owner, runIds, leaseMs, now) {
      read('renew', () => undefined);
      return inTransaction('renew', () => runIds.filter((id) => stmts.renew.run({ owner, run_id: id, until: now + leaseMs }).changes > 0));
    },

    async release(owner, runIds) {
      read('release', () => undefined);
      inTransaction('release', () => {
        for (const id of runIds) stmts.release.run({ owner, run_id: id });
      });
    },

    async deleteRuns(request) {
      read('deleteRuns', () => undefined);
      const statuses = JSON.stringify(request.status ?? ENDED);
      commit.forget();
      return inTransaction('deleteRuns', () => {
        stmts.deleteCancels.run({ statuses, before: request.endedBefore });
        stmts.deleteEvents.run({ statuses, before: request.endedBefore });
        return stmts.deleteRuns.run({ statuses, before: request.endedBefore }).changes;
      });
    },

    async requestCancel(request) {
      read('requestCancel', () => checkCancel(request));
      return inTransaction('requestCancel', () => stmts.requestCancel.run({ run_id: request.runId, reason: request.reason ?? null, at: request.at }).changes > 0);
    },

    async cancelRequests(runIds) {
      return read('cancelRequests', () => {
        checkRunIds(runIds);
        if (runIds.length === 0) return [];
        const rows = stmts.cancelRequests.all({ run_ids: JSON.stringify(runIds) }) as [string, string | null, number][];
        return rows.map(([runId, reason, at]) => (reason === null ? { runId, at } : { runId, reason, at }));
      });
    },

    async close() {
      if (closed) return;
      await queue.close();
      closed = true;
      db.close();
    },
  };
}
