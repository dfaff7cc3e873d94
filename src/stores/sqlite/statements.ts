/**
 * The SQLite store's prepared statements and the mapping between a `runs` row
 * and a {@link RunRow}.
 * @module
 */
import type Database from 'better-sqlite3';
import { StoreError, type SerializedError } from '../../errors.ts';
import type { StoredEvent, StoredRunStatus } from '../../runtime/store.ts';
import type { RunRow } from '../rows.ts';

/**
 * A `runs` row as SQLite returns it.
 *
 * @example
 * ```ts
 * const r = stmts.getRun.get('r1') as SqlRun | undefined;
 * ```
 */
export interface SqlRun {
  run_id: string; topology: string; version: string; status: string; input?: string | null; tenant: string | null;
  fork_run_id: string | null; fork_node_id: string | null; created_at: number; updated_at: number; last_seq: number;
  output: string | null; error: string | null; lease_owner: string | null; lease_until: number | null;
  wait_node_id: string | null; wait_name: string | null; wait_timeout_at: number | null; signalled: number;
}

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

/**
 * Parses a JSON column; a value that does not parse is `STORE_CORRUPT`.
 *
 * @example
 * ```ts
 * const input = parseJson(row.input, 'runs.db');
 * ```
 */
export function parseJson(text: string | null, location: string): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new StoreError('STORE_CORRUPT', `run store ${location}: a stored value is not valid JSON`, { cause: e });
  }
}

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
 * The mutable columns of a row, as statement parameters.
 *
 * @example
 * ```ts
 * stmts.updateRun.run(mutable(row));
 * ```
 */
export function mutable(row: RunRow): Record<string, unknown> {
  return {
    run_id: row.runId, status: row.status, updated_at: row.updatedAt, last_seq: row.lastSeq,
    output: json(row.output), error: json(row.error), lease_owner: row.leaseOwner ?? null, lease_until: row.leaseUntil ?? null,
    wait_node_id: row.wait?.nodeId ?? null, wait_name: row.wait?.name ?? null, wait_timeout_at: row.wait?.timeoutAt ?? null,
    signalled: row.signalled ? 1 : 0,
  };
}

/**
 * All columns of a new row, as statement parameters.
 *
 * @example
 * ```ts
 * stmts.insertRun.run(insertable(newRow(run)));
 * ```
 */
export function insertable(row: RunRow): Record<string, unknown> {
  return {
    ...mutable(row), topology: row.topology, version: row.version, input: json(row.input), tenant: row.tenant ?? null,
    fork_run_id: row.forkOf?.runId ?? null, fork_node_id: row.forkOf?.nodeId ?? null, created_at: row.createdAt,
  };
}

/**
 * The stored body of an event (schema version 2): its JSON without the fields its row keeps
 * in columns (`runId`, `seq`, `ts`, `type`, `nodeId`), so each row carries them once.
 *
 * @example
 * ```ts
 * bodyOf({ runId: 'r1', seq: 3, ts: 5, type: 'node.completed', nodeId: 'a', output: 1 }); // '{"output":1}'
 * ```
 */
export function bodyOf(e: StoredEvent): string {
  const { runId: _runId, seq: _seq, ts: _ts, type: _type, nodeId: _nodeId, ...rest } = e;
  return JSON.stringify(rest);
}

/**
 * An event back from its row: the columns, then the body's fields (a version 1 body holds
 * every field itself, which comes to the same event).
 *
 * @example
 * ```ts
 * const e = eventOf('r1', [3, 5, 'node.completed', 'a', '{"output":1}'], 'runs.db');
 * ```
 */
export function eventOf(runId: string, row: readonly [number, number, string, string | null, string], location: string): StoredEvent {
  const [seq, ts, type, nodeId, body] = row;
  const rest = parseJson(body, location);
  if (typeof rest !== 'object' || rest === null || Array.isArray(rest)) {
    throw new StoreError('STORE_CORRUPT', `run store ${location}: event ${seq} of run ${runId} is not a JSON object`);
  }
  return nodeId === null ? { type, runId, seq, ts, ...rest } : { type, runId, seq, ts, nodeId, ...rest };
}

/** Rows per multi-row `INSERT` of events ({@link insertEvents}). */
export const EVENT_ROWS = 32;

/**
 * Inserts events with one multi-row statement per {@link EVENT_ROWS} events (positional
 * parameters), the rest one by one.
 *
 * @example
 * ```ts
 * insertEvents(stmts, events);
 * ```
 */
export function insertEvents(stmts: Statements, events: readonly StoredEvent[]): void {
  const n = events.length;
  let i = 0;
  if (n >= EVENT_ROWS) {
    const params = new Array<unknown>(EVENT_ROWS * 6);
    for (; i + EVENT_ROWS <= n; i += EVENT_ROWS) {
      for (let k = 0; k < EVENT_ROWS; k++) putEvent(params, k * 6, events[i + k]!);
      stmts.insertEvents.run(params);
    }
  }
  const one = new Array<unknown>(6);
  for (; i < n; i++) {
    putEvent(one, 0, events[i]!);
    stmts.insertEvent.run(one);
  }
}

function putEvent(params: unknown[], at: number, e: StoredEvent): void {
  params[at] = e.runId;
  params[at + 1] = e.seq;
  params[at + 2] = e.ts;
  params[at + 3] = e.type;
  params[at + 4] = e.nodeId ?? null;
  params[at + 5] = bodyOf(e);
}

const MUTABLE_SET = `status = @status, updated_at = @updated_at, last_seq = @last_seq, output = @output, error = @error,
  lease_owner = @lease_owner, lease_until = @lease_until, wait_node_id = @wait_node_id, wait_name = @wait_name,
  wait_timeout_at = @wait_timeout_at, signalled = @signalled`;

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
  'getRun' | 'getState' | 'insertRun' | 'updateRun' | 'advanceRun' | 'insertEvent' | 'insertEvents' | 'history' | 'list' | 'liveOwners' | 'claimable' | 'lease' | 'renew'
  | 'release' | 'deleteEvents' | 'deleteRuns',
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
  return {
    getRun: db.prepare('SELECT * FROM runs WHERE run_id = ?'),
    /** A row without its input, for folding events into it (the input is never rewritten). */
    getState: db.prepare(`SELECT run_id, topology, version, status, tenant, fork_run_id, fork_node_id, created_at, updated_at,
      last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled FROM runs WHERE run_id = ?`),
    insertRun: db.prepare(`INSERT INTO runs (run_id, topology, version, status, input, tenant, fork_run_id, fork_node_id, created_at,
      updated_at, last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled)
      VALUES (@run_id, @topology, @version, @status, @input, @tenant, @fork_run_id, @fork_node_id, @created_at, @updated_at,
      @last_seq, @output, @error, @lease_owner, @lease_until, @wait_node_id, @wait_name, @wait_timeout_at, @signalled)
      ON CONFLICT (run_id) DO NOTHING`),
    updateRun: db.prepare(`UPDATE runs SET ${MUTABLE_SET} WHERE run_id = @run_id`),
    /** A run whose events leave its status as is: advance its seq, if it is still where the events follow on (else 0 changes). */
    advanceRun: db.prepare('UPDATE runs SET updated_at = ?, last_seq = ? WHERE run_id = ? AND last_seq = ?'),
    insertEvent: db.prepare('INSERT INTO events (run_id, seq, ts, type, node_id, body) VALUES (?, ?, ?, ?, ?, ?)'),
    insertEvents: db.prepare(`INSERT INTO events (run_id, seq, ts, type, node_id, body) VALUES ${Array.from({ length: EVENT_ROWS }, () => '(?, ?, ?, ?, ?, ?)').join(', ')}`),
    history: db.prepare(`SELECT seq, ts, type, node_id, body FROM events WHERE run_id = @run_id AND seq >= @from AND seq <= @to
      AND (@until IS NULL OR ts <= @until) ORDER BY seq`).raw(),
    list: db.prepare(`SELECT * FROM runs WHERE ${LIST_FILTER} ORDER BY created_at DESC, run_id DESC LIMIT @limit`),
    liveOwners: db.prepare(`SELECT DISTINCT lease_owner FROM runs WHERE status IN ('running', 'waiting')
      AND lease_owner IS NOT NULL AND lease_until > @now`).pluck(),
    claimable: db.prepare(`SELECT * FROM runs WHERE ${CLAIMABLE} ORDER BY updated_at, run_id LIMIT @limit`),
    lease: db.prepare('UPDATE runs SET lease_owner = @owner, lease_until = @until WHERE run_id = @run_id'),
    renew: db.prepare('UPDATE runs SET lease_until = @until WHERE run_id = @run_id AND lease_owner = @owner'),
    release: db.prepare('UPDATE runs SET lease_owner = NULL, lease_until = NULL WHERE run_id = @run_id AND lease_owner = @owner'),
    deleteEvents: db.prepare(`DELETE FROM events WHERE run_id IN (SELECT run_id FROM runs WHERE ${ENDED_FILTER})`),
    deleteRuns: db.prepare(`DELETE FROM runs WHERE ${ENDED_FILTER}`),
  };
}

