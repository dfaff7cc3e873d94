/**
 * The PostgreSQL store's run reads and retention deletes, each one query (or two) on a
 * pooled connection the caller provides: a run by id, a slice of a history, a page of
 * runs, and the delete of ended runs. `s` is the quoted SQL schema of the tables.
 * @module
 */
import type pg from 'pg';
import { StoreError } from '../../errors.ts';
import type { RetentionRequest, RunQuery, RunRecord, StoredEvent } from '../../runtime/store.ts';
import { ENDED, runNotFound, toRecord } from '../rows.ts';
import { decodeCursor, encodeCursor, pageLimit } from '../paging.ts';
import { RUN_COLUMNS, fromSql, type RunsRow } from './rows.ts';

/**
 * The part of a history {@link selectHistoryRange} reads: from `fromSeq` (default 0) up to
 * `toSeq`, of events no later than `untilTs` (each bound optional).
 *
 * @example
 * ```ts
 * const range: HistoryRange = { fromSeq: 10, untilTs: Date.now() };
 * ```
 */
export interface HistoryRange {
  readonly fromSeq?: number;
  readonly toSeq?: number;
  readonly untilTs?: number;
}

/**
 * The run `runId` (undefined when there is none).
 *
 * @example
 * ```ts
 * const run = await withClient('getRun', (c) => selectRun(c, '"public"', 'r1'));
 * ```
 */
export async function selectRun(c: pg.PoolClient, s: string, runId: string): Promise<RunRecord | undefined> {
  const r = await c.query<RunsRow>(`SELECT ${RUN_COLUMNS} FROM ${s}.llmo_runs r WHERE r.run_id = $1`, [runId]);
  const row = r.rows[0];
  return row === undefined ? undefined : toRecord(fromSql(row));
}

/**
 * Readies a new connection for the store's work: one read of each table through its key, so the
 * server session has loaded the tables' and indexes' catalog entries before a commit needs them.
 *
 * @example
 * ```ts
 * await withClient('open', (c) => warmConnection(c, '"public"'), false);
 * ```
 */
export async function warmConnection(c: pg.PoolClient, s: string): Promise<void> {
  await c.query(`SELECT (SELECT 1 FROM ${s}.llmo_runs WHERE run_id = ''), (SELECT 1 FROM ${s}.llmo_events WHERE run_id = '' AND seq = 0)`);
}

/**
 * The events of `runId` within `range`, in `seq` order. Rejects with `RUN_NOT_FOUND` when
 * none matched and the run does not exist.
 *
 * @example
 * ```ts
 * const tail = await withClient('history', (c) => selectHistoryRange(c, '"public"', 'r1', { fromSeq: 10 }));
 * ```
 */
export async function selectHistoryRange(c: pg.PoolClient, s: string, runId: string, range: HistoryRange): Promise<StoredEvent[]> {
  const r = await c.query<{ body: StoredEvent }>(
    // bounds as bigint: a caller may ask past the integer column's range (`toSeq` 2^40 is "to the end"), which an int parameter refuses
    `SELECT body FROM ${s}.llmo_events WHERE run_id = $1 AND seq >= $2::bigint AND ($3::bigint IS NULL OR seq <= $3::bigint) AND ($4::bigint IS NULL OR ts <= $4) ORDER BY seq`,
    [runId, range.fromSeq ?? 0, range.toSeq ?? null, range.untilTs ?? null],
  );
  if (r.rows.length === 0) {
    const exists = await c.query(`SELECT 1 FROM ${s}.llmo_runs WHERE run_id = $1`, [runId]);
    if (exists.rowCount === 0) throw runNotFound(runId);
  }
  return r.rows.map((x) => x.body);
}

/**
 * A page of the runs matching `query`, newest first, with the cursor of the next page
 * when there is one.
 *
 * @example
 * ```ts
 * const page = await withClient('listRuns', (c) => selectRuns(c, '"public"', { status: ['running'], limit: 50 }));
 * ```
 */
export async function selectRuns(c: pg.PoolClient, s: string, query: RunQuery): Promise<{ readonly runs: RunRecord[]; readonly next?: string }> {
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
}

/**
 * Deletes the ended runs `request` names (and their events); resolves with how many runs
 * went. Rejects with `STORE_INVALID` for an invalid `endedBefore`. Run it in a transaction.
 *
 * @example
 * ```ts
 * const n = await withClient('deleteRuns', (c) => deleteEndedRuns(c, '"public"', { endedBefore: Date.now() - 86_400_000 }), true, true);
 * ```
 */
export async function deleteEndedRuns(c: pg.PoolClient, s: string, request: RetentionRequest): Promise<number> {
  if (!Number.isFinite(request.endedBefore)) throw new StoreError('STORE_INVALID', 'deleteRuns: endedBefore is invalid');
  const statuses = request.status ?? ENDED;
  const r = await c.query<{ n: number }>(
    `WITH d AS (DELETE FROM ${s}.llmo_runs WHERE status = ANY($1::text[]) AND status IN ('completed', 'failed', 'cancelled') AND updated_at < $2 RETURNING run_id),
          e AS (DELETE FROM ${s}.llmo_events WHERE run_id IN (SELECT run_id FROM d)),
          x AS (DELETE FROM ${s}.llmo_cancels WHERE run_id IN (SELECT run_id FROM d))
     SELECT count(*)::int AS n FROM d`,
    [[...statuses], request.endedBefore],
  );
  return r.rows[0]?.n ?? 0;
}
