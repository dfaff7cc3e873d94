/**
 * The SQLite store's prepared statements and the mapping between a `runs` row
 * and a {@link RunRow} (events rows: `event-rows.ts`).
 * @module
 */
import type Database from 'better-sqlite3';
import type { SerializedError } from '../../errors.ts';
import type { StoredRunStatus } from '../../runtime/store.ts';
import type { RunDelta } from '../delta.ts';
import type { RunRow } from '../rows.ts';
import { EVENT_COLUMNS, EVENT_ROWS, parseJson } from './event-rows.ts';

/**
 * A `runs` row as SQLite returns it.
 *
 * @example
 * ```ts
 * const r = stmts.getRun.get('r1') as SqlRun | undefined;
 * ```
 */
export interface SqlRun {
  run_key: number; run_id: string; topology: string; version: string; status: string; input?: string | null; tenant: string | null;
  fork_run_id: string | null; fork_node_id: string | null; created_at: number; updated_at: number; last_seq: number;
  output: string | null; error: string | null; lease_owner: string | null; lease_until: number | null;
  wait_node_id: string | null; wait_name: string | null; wait_timeout_at: number | null; signalled: number;
}

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

/**
 * A `runs` row as a {@link RunRow}.
 *
 * @example
 * ```ts
 * const row = fromSql(stmts.getRun.get(id) as SqlRun, location);
 * ```
 */
export function fromSql(r: SqlRun, location: string): RunRow {
  const row: RunRow = {
    runId: r.run_id, topology: r.topology, version: r.version, status: r.status as StoredRunStatus,
    // The append path reads rows without their input (it never changes): `input` is then absent.
    input: r.input === undefined ? undefined : parseJson(r.input, location), createdAt: r.created_at, updatedAt: r.updated_at, lastSeq: r.last_seq,
    signalled: r.signalled === 1,
  };
  if (r.tenant !== null) row.tenant = r.tenant;
  if (r.fork_run_id !== null && r.fork_node_id !== null) row.forkOf = { runId: r.fork_run_id, nodeId: r.fork_node_id };
  if (r.output !== null) row.output = parseJson(r.output, location);
  if (r.error !== null) row.error = parseJson(r.error, location) as SerializedError;
  if (r.lease_owner !== null) row.leaseOwner = r.lease_owner;
  if (r.lease_until !== null) row.leaseUntil = r.lease_until;
  if (r.wait_node_id !== null && r.wait_name !== null) {
    row.wait = r.wait_timeout_at === null
      ? { nodeId: r.wait_node_id, name: r.wait_name }
      : { nodeId: r.wait_node_id, name: r.wait_name, timeoutAt: r.wait_timeout_at };
  }
  return row;
}

/**
 * The parameters of `insertRun` for a new row (positional, in its column order).
 *
 * @example
 * ```ts
 * const key = Number(stmts.insertRun.run(insertParams(newRow(run))).lastInsertRowid);
 * ```
 */
export function insertParams(row: RunRow): unknown[] {
  return [
    row.runId, row.topology, row.version, row.status, json(row.input), row.tenant ?? null, row.forkOf?.runId ?? null, row.forkOf?.nodeId ?? null,
    row.createdAt, row.updatedAt, row.lastSeq, json(row.output), json(row.error), row.leaseOwner ?? null, row.leaseUntil ?? null,
    row.wait?.nodeId ?? null, row.wait?.name ?? null, row.wait?.timeoutAt ?? null, row.signalled ? 1 : 0,
  ];
}

/**
 * Whether a {@link RunDelta} changes its row beyond `lastSeq` and `updatedAt` (which readers
 * take from the events when they are later).
 *
 * @example
 * ```ts
 * if (changesRunRow(d)) stmts.applyDelta.run(deltaParams(key, d));
 * ```
 */
export function changesRunRow(d: RunDelta): boolean {
  return d.status !== undefined || d.wait !== undefined || d.signalled !== undefined || d.setOutput || d.error !== undefined || d.clearLease;
}

/**
 * The parameters of `applyDelta`: the delta's fields, each one the statement keeps
 * when the delta leaves it out.
 *
 * @example
 * ```ts
 * stmts.applyDelta.run(deltaParams(key, deltaOf(events)!));
 * ```
 */
export function deltaParams(runKey: number, d: RunDelta): Record<string, unknown> {
  return {
    status: d.status ?? null, updated_at: d.updatedAt, last_seq: d.lastSeq, set_output: d.setOutput ? 1 : 0, output: json(d.output), error: json(d.error),
    clear_lease: d.clearLease ? 1 : 0, wait: d.wait === undefined ? 0 : d.wait === null ? 1 : 2, wait_node_id: d.wait?.nodeId ?? null,
    wait_name: d.wait?.name ?? null, wait_timeout_at: d.wait?.timeoutAt ?? null, signalled: d.signalled === undefined ? null : d.signalled ? 1 : 0, run_key: runKey,
  };
}

/**
 * A run's columns as readers see them: `last_seq` and `updated_at` are the later of the row's
 * (its last change) and its last events row's (node events append without touching the row).
 */
const RUN_COLUMNS = `r.run_key, r.run_id, r.topology, r.version, r.status, r.input, r.tenant, r.fork_run_id, r.fork_node_id, r.created_at,
  MAX(r.updated_at, COALESCE((SELECT e.ts FROM events e WHERE e.run_key = r.run_key ORDER BY e.seq DESC LIMIT 1), 0)) AS updated_at,
  MAX(r.last_seq, COALESCE((SELECT COALESCE(e.end_seq, e.seq) FROM events e WHERE e.run_key = r.run_key ORDER BY e.seq DESC LIMIT 1), -1)) AS last_seq,
  r.output, r.error, r.lease_owner, r.lease_until, r.wait_node_id, r.wait_name, r.wait_timeout_at, r.signalled`;

/** Filters shared by claim: `?`-free, named parameters; list parameters are JSON arrays (json_each). */
const CLAIMABLE = `
  (status = 'running' OR (@wakeable = 1 AND status = 'waiting' AND (signalled = 1 OR wait_timeout_at <= @now)))
  AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until <= @now
       OR lease_owner IN (SELECT value FROM json_each(@dead)))
  AND (@topologies IS NULL OR topology IN (SELECT value FROM json_each(@topologies)))
  AND (@run_ids IS NULL OR run_id IN (SELECT value FROM json_each(@run_ids)))`;

const LIST_FILTER = `
  (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
  AND (@topology IS NULL OR topology = @topology)
  AND (@tenant IS NULL OR tenant = @tenant)
  AND (@after_created IS NULL OR created_at < @after_created OR (created_at = @after_created AND run_id < @after_id))`;

/**
 * The store's prepared statements, by name.
 *
 * @example
 * ```ts
 * const row = stmts.getRun.get('r1') as SqlRun | undefined;
 * ```
 */
export type Statements = Readonly<Record<
  'getRun' | 'head' | 'insertRun' | 'applyDelta' | 'insertEvent' | 'insertEvents' | 'history' | 'list' | 'liveOwners' | 'claimable' | 'lease' | 'renew'
  | 'release' | 'deleteEvents' | 'deleteRuns' | 'deleteCancels' | 'requestCancel' | 'cancelRequests',
  Database.Statement
>>;

const ENDED_FILTER = `status IN (SELECT value FROM json_each(@statuses)) AND updated_at < @before`;

/**
 * Prepares every statement the store runs.
 *
 * @example
 * ```ts
 * const stmts = prepare(db);
 * ```
 */
export function prepare(db: Database.Database): Statements {
  const values = (n: number): string => `(${Array.from({ length: n }, () => '?').join(', ')})`;
  const eventColumns = 'run_key, seq, end_seq, ts, type, node_id, body';
  return {
    getRun: db.prepare(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.run_id = ?`),
    /** Where an append must follow on: the run's key and last seq (no row: an unknown run). */
    head: db.prepare(`SELECT r.run_key,
      MAX(r.last_seq, COALESCE((SELECT COALESCE(e.end_seq, e.seq) FROM events e WHERE e.run_key = r.run_key ORDER BY e.seq DESC LIMIT 1), -1)) AS last_seq
      FROM runs r WHERE r.run_id = ?`).raw(),
    insertRun: db.prepare(`INSERT INTO runs (run_id, topology, version, status, input, tenant, fork_run_id, fork_node_id, created_at,
      updated_at, last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled)
      VALUES ${values(19)} ON CONFLICT (run_id) DO NOTHING`),
    /** A run's row change from its events (delta.ts): each field the delta leaves out (NULL, or 0 for the flags) keeps its value. */
    applyDelta: db.prepare(`UPDATE runs SET status = COALESCE(@status, status), updated_at = @updated_at, last_seq = @last_seq,
      output = CASE WHEN @set_output = 1 THEN @output ELSE output END, error = COALESCE(@error, error),
      lease_owner = CASE WHEN @clear_lease = 1 THEN NULL ELSE lease_owner END, lease_until = CASE WHEN @clear_lease = 1 THEN NULL ELSE lease_until END,
      wait_node_id = CASE @wait WHEN 0 THEN wait_node_id WHEN 1 THEN NULL ELSE @wait_node_id END,
      wait_name = CASE @wait WHEN 0 THEN wait_name WHEN 1 THEN NULL ELSE @wait_name END,
      wait_timeout_at = CASE @wait WHEN 0 THEN wait_timeout_at WHEN 1 THEN NULL ELSE @wait_timeout_at END,
      signalled = COALESCE(@signalled, signalled) WHERE run_key = @run_key`),
    insertEvent: db.prepare(`INSERT INTO events (${eventColumns}) VALUES ${values(EVENT_COLUMNS)}`),
    insertEvents: db.prepare(`INSERT INTO events (${eventColumns}) VALUES ${Array.from({ length: EVENT_ROWS }, () => values(EVENT_COLUMNS)).join(', ')}`),
    /** The rows holding events `from` to `to`: from the one holding `from` (a row may hold several) on. */
    history: db.prepare(`SELECT e.seq, e.ts, e.type, e.node_id, e.body, e.end_seq FROM runs r JOIN events e ON e.run_key = r.run_key
      WHERE r.run_id = @run_id AND e.seq <= @to
      AND e.seq >= COALESCE((SELECT MAX(x.seq) FROM events x WHERE x.run_key = r.run_key AND x.seq <= @from), 0)
      AND (@until IS NULL OR e.ts <= @until OR e.end_seq IS NOT NULL) ORDER BY e.seq`).raw(),
    list: db.prepare(`SELECT ${RUN_COLUMNS} FROM runs r WHERE ${LIST_FILTER} ORDER BY r.created_at DESC, r.run_id DESC LIMIT @limit`),
    liveOwners: db.prepare(`SELECT DISTINCT lease_owner FROM runs WHERE status IN ('running', 'waiting')
      AND lease_owner IS NOT NULL AND lease_until > @now`).pluck(),
    claimable: db.prepare(`SELECT ${RUN_COLUMNS} FROM runs r WHERE ${CLAIMABLE} ORDER BY updated_at, r.run_id LIMIT @limit`),
    lease: db.prepare('UPDATE runs SET lease_owner = @owner, lease_until = @until WHERE run_id = @run_id'),
    renew: db.prepare('UPDATE runs SET lease_until = @until WHERE run_id = @run_id AND lease_owner = @owner'),
    release: db.prepare('UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE run_id = @run_id AND lease_owner = @owner'),
    deleteEvents: db.prepare(`DELETE FROM events WHERE run_key IN (SELECT run_key FROM runs WHERE ${ENDED_FILTER})`),
    deleteRuns: db.prepare(`DELETE FROM runs WHERE ${ENDED_FILTER}`),
    deleteCancels: db.prepare(`DELETE FROM cancels WHERE run_id IN (SELECT run_id FROM runs WHERE ${ENDED_FILTER})`),
    /** A cancel request, only for a running run (a later one replaces it). */
    requestCancel: db.prepare(`INSERT INTO cancels (run_id, reason, at) SELECT run_id, @reason, @at FROM runs WHERE run_id = @run_id AND status = 'running'
      ON CONFLICT (run_id) DO UPDATE SET reason = excluded.reason, at = excluded.at`),
    cancelRequests: db.prepare('SELECT run_id, reason, at FROM cancels WHERE run_id IN (SELECT value FROM json_each(@run_ids))').raw(),
  };
}

