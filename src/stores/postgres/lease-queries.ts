/**
 * The PostgreSQL store's leases, each on a pooled connection the caller provides:
 * claiming runs (`FOR UPDATE SKIP LOCKED`, so claimers never take the same run), renewing
 * and releasing them. `s` is the quoted SQL schema of the tables.
 * @module
 */
import type pg from 'pg';
import type { CancelRequest, ClaimRequest, RunRecord } from '../../runtime/store.ts';
import { toRecord } from '../rows.ts';
import { RUN_COLUMNS, fromSql, type RunsRow } from './rows.ts';

/**
 * Takes the lease of the runs `request` may claim (free, expired, held by a dead owner,
 * or with `wakeable` waiting runs ready to wake), oldest first. Run it in a transaction,
 * on a request `checkClaim` accepted.
 *
 * @example
 * ```ts
 * const claimed = await withClient('claim', (c) => claimRuns(c, '"public"', { owner, leaseMs: 15_000, limit: 100, now: Date.now() }), true);
 * ```
 */
export async function claimRuns(c: pg.PoolClient, s: string, request: ClaimRequest): Promise<RunRecord[]> {
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
}

/**
 * Extends `owner`'s lease of `runIds` to `now + leaseMs`; resolves with the ids it still
 * held (live runs only), in the order asked.
 *
 * @example
 * ```ts
 * const held = await withClient('renew', (c) => renewLeases(c, '"public"', owner, ['r1', 'r2'], 15_000, Date.now()));
 * ```
 */
export async function renewLeases(c: pg.PoolClient, s: string, owner: string, runIds: readonly string[], leaseMs: number, now: number): Promise<string[]> {
  if (runIds.length === 0) return [];
  const r = await c.query<{ run_id: string }>(
    `UPDATE ${s}.llmo_runs SET lease_until = $3::bigint + $4::bigint
     WHERE lease_owner = $1 AND run_id = ANY($2::text[]) AND status IN ('running', 'waiting') RETURNING run_id`,
    [owner, [...runIds], now, leaseMs],
  );
  const held = new Set(r.rows.map((x) => x.run_id));
  return runIds.filter((id) => held.has(id));
}

/**
 * Drops `owner`'s lease of `runIds` (those another owner holds stay as they are).
 *
 * @example
 * ```ts
 * await withClient('release', (c) => releaseLeases(c, '"public"', owner, ['r1']));
 * ```
 */
export function releaseLeases(c: pg.PoolClient, s: string, owner: string, runIds: readonly string[]): Promise<pg.QueryResult> {
  return c.query(`UPDATE ${s}.llmo_runs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1 AND run_id = ANY($2::text[])`, [owner, [...runIds]]);
}

/**
 * Records a request to cancel a running run (a later one replaces it); false when the run is not running.
 *
 * @example
 * ```ts
 * await withClient('requestCancel', (c) => insertCancel(c, '"public"', { runId: 'r1', at: Date.now() }));
 * ```
 */
export async function insertCancel(c: pg.PoolClient, s: string, request: CancelRequest): Promise<boolean> {
  const r = await c.query(
    `INSERT INTO ${s}.llmo_cancels (run_id, reason, at) SELECT run_id, $2, $3::bigint FROM ${s}.llmo_runs WHERE run_id = $1 AND status = 'running'
     ON CONFLICT (run_id) DO UPDATE SET reason = excluded.reason, at = excluded.at`,
    [request.runId, request.reason ?? null, request.at],
  );
  return (r.rowCount ?? 0) > 0;
}

/**
 * The cancel requests of `runIds` (those that have one).
 *
 * @example
 * ```ts
 * const asked = await withClient('cancelRequests', (c) => selectCancels(c, '"public"', ['r1', 'r2']));
 * ```
 */
export async function selectCancels(c: pg.PoolClient, s: string, runIds: readonly string[]): Promise<CancelRequest[]> {
  if (runIds.length === 0) return [];
  const r = await c.query<{ run_id: string; reason: string | null; at: string }>(
    `SELECT run_id, reason, at FROM ${s}.llmo_cancels WHERE run_id = ANY($1::text[])`, [[...runIds]],
  );
  return r.rows.map((x) => (x.reason === null ? { runId: x.run_id, at: Number(x.at) } : { runId: x.run_id, reason: x.reason, at: Number(x.at) }));
}

/** An optional id list as a SQL parameter (NULL for no filter). */
function p2(ids: readonly string[] | undefined): string[] | null {
  return ids === undefined ? null : [...ids];
}
