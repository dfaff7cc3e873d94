/**
 * The PostgreSQL store's rows: the `llmo_runs` columns it selects, and how a row
 * becomes the shared {@link RunRow} (and a `RunRecord`).
 * @module
 */
import type { SerializedError } from '../../errors.ts';
import type { StoredRunStatus } from '../../runtime/store.ts';
import type { RunRow } from '../rows.ts';

/**
 * The columns of `llmo_runs` every read selects (`r.` qualified).
 *
 * @example
 * ```ts
 * await client.query(`SELECT ${RUN_COLUMNS} FROM ${s}.llmo_runs r WHERE r.run_id = $1`, [id]);
 * ```
 */
export const RUN_COLUMNS = [
  'run_id', 'topology', 'version', 'status', 'input', 'tenant', 'fork_run_id', 'fork_node_id', 'created_at', 'updated_at',
  'last_seq', 'output', 'error', 'lease_owner', 'lease_until', 'wait_node_id', 'wait_name', 'wait_timeout_at', 'signalled',
].map((c) => `r.${c}`).join(', ');

/**
 * {@link RUN_COLUMNS} without `input`: what appending reads (a run's input never changes,
 * so it is neither sent back nor parsed per batch).
 *
 * @example
 * ```ts
 * await client.query(`SELECT ${RUN_STATE_COLUMNS} FROM ${s}.llmo_runs r WHERE r.run_id = ANY($1) FOR UPDATE`, [ids]);
 * ```
 */
export const RUN_STATE_COLUMNS = RUN_COLUMNS.split(', ').filter((c) => c !== 'r.input').join(', ');

/**
 * A `llmo_runs` row as the driver returns it (int8 as numbers, json parsed).
 *
 * @example
 * ```ts
 * const row: RunsRow = result.rows[0];
 * ```
 */
export interface RunsRow {
  run_id: string;
  topology: string;
  version: string;
  status: string;
  input: unknown;
  tenant: string | null;
  fork_run_id: string | null;
  fork_node_id: string | null;
  created_at: number;
  updated_at: number;
  last_seq: number;
  output: unknown;
  error: unknown;
  lease_owner: string | null;
  lease_until: number | null;
  wait_node_id: string | null;
  wait_name: string | null;
  wait_timeout_at: number | null;
  signalled: boolean;
}

/**
 * A selected row as the shared {@link RunRow} (absent fields for SQL NULLs).
 *
 * @example
 * ```ts
 * const record = toRecord(fromSql(result.rows[0]));
 * ```
 */
export function fromSql(r: RunsRow): RunRow {
  const row: RunRow = {
    runId: r.run_id, topology: r.topology, version: r.version, status: r.status as StoredRunStatus, input: r.input ?? undefined,
    createdAt: r.created_at, updatedAt: r.updated_at, lastSeq: r.last_seq, signalled: r.signalled,
  };
  if (r.tenant !== null) row.tenant = r.tenant;
  if (r.fork_run_id !== null) row.forkOf = { runId: r.fork_run_id, nodeId: r.fork_node_id ?? '' };
  if (r.output !== null) row.output = r.output;
  if (r.error !== null) row.error = r.error as SerializedError;
  if (r.lease_owner !== null) row.leaseOwner = r.lease_owner;
  if (r.lease_until !== null) row.leaseUntil = r.lease_until;
  if (r.wait_node_id !== null || r.wait_name !== null) {
    const wait: { nodeId: string; name: string; timeoutAt?: number } = { nodeId: r.wait_node_id ?? '', name: r.wait_name ?? '' };
    if (r.wait_timeout_at !== null) wait.timeoutAt = r.wait_timeout_at;
    row.wait = wait;
  }
  return row;
}

/**
 * A JSON value as text for a `json` column, or null (SQL NULL) for `undefined`.
 *
 * @example
 * ```ts
 * jsonText({ a: 1 }); // '{"a":1}'
 * ```
 */
export function jsonText(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}
