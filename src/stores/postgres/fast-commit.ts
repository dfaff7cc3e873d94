/**
 * The one-round-trip group commit of the PostgreSQL store. A batch whose rows can be
 * written without reading them (every run's events consecutive; see {@link deltaOf})
 * goes to the server as ONE statement, outside any explicit transaction (a statement is
 * atomic on its own): the new runs inserted (with their events of the batch folded in),
 * every other run updated under a guard on the seq it must be at, and the events
 * inserted, all from arrays (unnest). The statement ends by checking that every new run
 * was inserted and every guarded run updated; if not, `llmo_guard` raises and nothing
 * of the batch is written. Any failure other than a lost connection sends the batch to
 * the full path ({@link writeBatch}: rows locked and read, each error named), which is
 * also what makes a re-run of a batch whose outcome is unknown idempotent.
 * @module
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { StoredEvent } from '../../runtime/store.ts';
import { deltaOf, type RunDelta } from '../delta.ts';
import { applyEvent, type RunRow } from '../rows.ts';
import type { Write } from './commit.ts';
import { scalarArray, textArray } from './arrays.ts';
import { jsonText } from './rows.ts';

/**
 * A batch ready for {@link runFastCommit}: the rows to insert, the guarded updates and the events.
 *
 * @example
 * ```ts
 * const plan = fastPlan(batch);
 * if (plan !== undefined) await runFastCommit(client, '"public"', plan);
 * ```
 */
export interface FastPlan {
  /** New runs: their row with the batch's events for them folded in, and the create's write id. */
  readonly created: readonly { readonly row: RunRow; readonly id: string }[];
  /** Runs that exist: what the batch's events change, by run. */
  readonly updated: readonly { readonly runId: string; readonly delta: RunDelta }[];
  /** Every event, with the id of the append that carries it. */
  readonly events: readonly StoredEvent[];
  readonly eventIds: readonly string[];
}

/**
 * The {@link FastPlan} of a batch, or undefined when the batch needs the full path: a run
 * created twice, or a run whose events in the batch are not consecutive (the full path
 * then names the `RUN_EXISTS` / `SEQ_CONFLICT`).
 *
 * @example
 * ```ts
 * fastPlan([{ kind: 'append', id: '7', events: [{ runId: 'r1', seq: 3, ts: 1, type: 'node.started' }] }]); // one guarded update, one event
 * ```
 */
export function fastPlan(batch: readonly Write[]): FastPlan | undefined {
  const created = new Map<string, { row: RunRow; id: string }>();
  const byRun = new Map<string, StoredEvent[]>();
  const events: StoredEvent[] = [];
  const eventIds: string[] = [];
  for (const w of batch) {
    if (w.kind === 'create') {
      const id = w.run.runId;
      if (created.has(id)) return undefined;
      created.set(id, { row: { ...w.row }, id: w.id });
    }
    // a run's first events ride with its creation, under its write id
    for (const e of (w.kind === 'create' ? w.run.events : w.events) ?? []) {
      const list = byRun.get(e.runId);
      if (list === undefined) byRun.set(e.runId, [e]);
      else list.push(e);
      events.push(e);
      eventIds.push(w.id);
    }
  }
  const updated: { runId: string; delta: RunDelta }[] = [];
  for (const [runId, list] of byRun) {
    const c = created.get(runId);
    if (c !== undefined) {
      try {
        for (const e of list) applyEvent(c.row, e);
      } catch {
        return undefined;
      }
      continue;
    }
    const delta = deltaOf(list);
    if (delta === undefined) return undefined;
    updated.push({ runId, delta });
  }
  return { created: [...created.values()], updated, events, eventIds };
}

/** Statement text by quoted schema (one prepared statement per connection and schema). */
const texts = new Map<string, { readonly name: string; readonly text: string }>();

function statement(s: string): { readonly name: string; readonly text: string } {
  let st = texts.get(s);
  if (st !== undefined) return st;
  st = {
    name: `llmo_commit_${createHash('sha256').update(s).digest('hex').slice(0, 16)}`,
    text: `WITH c AS (
      INSERT INTO ${s}.llmo_runs (run_id, topology, version, status, input, tenant, fork_run_id, fork_node_id, created_at, updated_at,
        last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled, creator)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::json[], $6::text[], $7::text[], $8::text[], $9::bigint[],
        $10::bigint[], $11::int[], $12::json[], $13::json[], $14::text[], $15::bigint[], $16::text[], $17::text[], $18::bigint[], $19::boolean[], $20::bigint[])
      ON CONFLICT (run_id) DO NOTHING
      RETURNING 1),
    u AS (
      UPDATE ${s}.llmo_runs r SET last_seq = u.last_seq, updated_at = u.updated_at, status = COALESCE(u.status, r.status),
        output = COALESCE(u.output, r.output), error = COALESCE(u.error, r.error),
        lease_owner = CASE WHEN u.clear_lease THEN NULL ELSE r.lease_owner END,
        lease_until = CASE WHEN u.clear_lease THEN NULL ELSE r.lease_until END,
        wait_node_id = CASE WHEN u.set_wait THEN u.wait_node_id ELSE r.wait_node_id END,
        wait_name = CASE WHEN u.set_wait THEN u.wait_name ELSE r.wait_name END,
        wait_timeout_at = CASE WHEN u.set_wait THEN u.wait_timeout_at ELSE r.wait_timeout_at END,
        signalled = COALESCE(u.signalled, r.signalled)
      FROM unnest($21::text[], $22::int[], $23::int[], $24::bigint[], $25::text[], $26::json[], $27::json[], $28::boolean[], $29::boolean[],
        $30::text[], $31::text[], $32::bigint[], $33::boolean[])
        AS u(run_id, expected, last_seq, updated_at, status, output, error, clear_lease, set_wait, wait_node_id, wait_name, wait_timeout_at, signalled)
      WHERE r.run_id = u.run_id AND r.last_seq = u.expected
      RETURNING 1),
    e AS (
      INSERT INTO ${s}.llmo_events (run_id, seq, ts, type, node_id, body, write_id)
      SELECT u.run_id, u.seq, u.ts, u.type, u.node_id, b.body, u.write_id
      FROM unnest($34::text[], $35::int[], $36::bigint[], $37::text[], $38::text[], $39::bigint[]) WITH ORDINALITY AS u(run_id, seq, ts, type, node_id, write_id, i)
      JOIN json_array_elements($40::json) WITH ORDINALITY AS b(body, i) ON b.i = u.i)
    SELECT ${s}.llmo_guard((SELECT count(*) FROM c) = $41::bigint AND (SELECT count(*) FROM u) = $42::bigint) AS ok`,
  };
  texts.set(s, st);
  return st;
}

/**
 * The statement of a {@link FastPlan}: a named query (prepared once per connection), or with
 * `named` false an unnamed one (parsed each time), for a pooler in transaction mode whose server
 * sessions do not keep a connection's prepared statements.
 *
 * @example
 * ```ts
 * await client.query(fastQuery('"public"', plan));
 * ```
 */
export function fastQuery(s: string, plan: FastPlan, named = true): pg.QueryConfig {
  const { created, updated, events, eventIds } = plan;
  const c = (f: (row: RunRow, id: string) => string | null): string => textArray(created.map((x) => f(x.row, x.id)));
  const cn = (f: (row: RunRow) => number | boolean | null): string => scalarArray(created.map((x) => f(x.row)));
  const u = (f: (d: RunDelta) => string | null): string => textArray(updated.map((x) => f(x.delta)));
  const un = (f: (d: RunDelta) => number | boolean | null): string => scalarArray(updated.map((x) => f(x.delta)));
  const n = events.length;
  const runIds = new Array<string>(n);
  const seqs = new Array<number>(n);
  const tss = new Array<number>(n);
  const types = new Array<string>(n);
  const nodeIds = new Array<string | null>(n);
  let bodies = '[';
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    runIds[i] = e.runId;
    seqs[i] = e.seq;
    tss[i] = e.ts;
    types[i] = e.type;
    nodeIds[i] = e.nodeId ?? null;
    bodies += (i === 0 ? '' : ',') + JSON.stringify(e);
  }
  bodies += ']';
  const st = statement(s);
  return {
    ...(named ? { name: st.name } : {}),
    text: st.text,
    values: [
      c((r) => r.runId), c((r) => r.topology), c((r) => r.version), c((r) => r.status), c((r) => jsonText(r.input)),
      c((r) => r.tenant ?? null), c((r) => r.forkOf?.runId ?? null), c((r) => r.forkOf?.nodeId ?? null), cn((r) => r.createdAt),
      cn((r) => r.updatedAt), cn((r) => r.lastSeq), c((r) => jsonText(r.output)), c((r) => jsonText(r.error)),
      c((r) => r.leaseOwner ?? null), cn((r) => r.leaseUntil ?? null), c((r) => r.wait?.nodeId ?? null), c((r) => r.wait?.name ?? null),
      cn((r) => r.wait?.timeoutAt ?? null), cn((r) => r.signalled), c((_, id) => id),
      textArray(updated.map((x) => x.runId)), un((d) => d.first - 1), un((d) => d.lastSeq), un((d) => d.updatedAt), u((d) => d.status ?? null),
      u((d) => (d.setOutput ? jsonText(d.output) ?? 'null' : null)), u((d) => jsonText(d.error)), un((d) => d.clearLease), un((d) => d.wait !== undefined),
      u((d) => d.wait?.nodeId ?? null), u((d) => d.wait?.name ?? null), un((d) => d.wait?.timeoutAt ?? null), un((d) => d.signalled ?? null),
      textArray(runIds), scalarArray(seqs), scalarArray(tss), textArray(types), textArray(nodeIds), textArray(eventIds as string[]), bodies, created.length, updated.length,
    ],
  };
}

/**
 * Runs a {@link FastPlan} as one statement on `client` (no explicit transaction: it commits
 * on its own). Rejects, having written nothing, when a new run exists already, a run is
 * missing or not at the seq its events follow (`llmo_guard`), or an event's seq is taken.
 *
 * @example
 * ```ts
 * await runFastCommit(client, '"public"', plan);
 * ```
 */
export async function runFastCommit(client: pg.PoolClient, s: string, plan: FastPlan, named = true): Promise<void> {
  await client.query(fastQuery(s, plan, named));
}

