/**
 * One group commit of the PostgreSQL store: a batch of queued writes (`createRun`,
 * `append`) in one transaction, with one multi-row statement per table (unnest).
 *
 * The batch is idempotent, so a batch whose COMMIT outcome is unknown (the connection
 * was lost during it) can be run again: every write carries a random id stored with
 * its rows; a run that exists with this write's id is taken as created, and an event
 * at a `seq` the run already has is taken as written when it was stored by this write
 * with the same JSON text. Anything else is `RUN_EXISTS` / `SEQ_CONFLICT`, as for a
 * second writer.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { NewRun, StoredEvent } from '../../runtime/store.ts';
import { applyEvent, runExists, runNotFound, seqConflict, type RunRow } from '../rows.ts';
import { RUN_STATE_COLUMNS, fromSql, jsonText, type RunsRow } from './rows.ts';

/**
 * A queued write.
 *
 * @example
 * ```ts
 * const w: Write = { kind: 'append', events: [{ runId: 'r1', seq: 0, ts: Date.now(), type: 'run.started' }] };
 * ```
 */
export type Write =
  | { readonly kind: 'create'; readonly id: string; readonly run: NewRun; readonly row: RunRow }
  | { readonly kind: 'append'; readonly id: string; readonly events: readonly StoredEvent[] };

type Create = Extract<Write, { kind: 'create' }>;

/**
 * A random write id (a signed 64-bit integer, as text for an int8 column).
 *
 * @example
 * ```ts
 * const w: Write = { kind: 'append', id: newWriteId(), events };
 * ```
 */
export function newWriteId(): string {
  return randomBytes(8).readBigInt64BE().toString();
}

/**
 * A source of random write ids like {@link newWriteId}, drawn from a buffer of 128 at a
 * time (one call to the random source per 128 writes instead of one per write).
 *
 * @example
 * ```ts
 * const nextWriteId = writeIdSource();
 * const w: Write = { kind: 'append', id: nextWriteId(), events };
 * ```
 */
export function writeIdSource(): () => string {
  const size = 8 * 128;
  let pool = randomBytes(size);
  let at = 0;
  return () => {
    if (at >= size) {
      pool = randomBytes(size);
      at = 0;
    }
    const id = pool.readBigInt64BE(at);
    at += 8;
    return id.toString();
  };
}

/**
 * The runs a write touches (the keys of the write queue: two commits in flight never share a run).
 *
 * @example
 * ```ts
 * [...writeKeys({ kind: 'append', id, events })]; // ['r1']
 * ```
 */
export function* writeKeys(w: Write): Iterable<string> {
  if (w.kind === 'create') {
    yield w.run.runId;
    return;
  }
  let last: string | undefined;
  for (const e of w.events) {
    if (e.runId !== last) yield e.runId;
    last = e.runId;
  }
}

async function createRuns(client: pg.PoolClient, s: string, writes: readonly Create[]): Promise<void> {
  if (writes.length === 0) return;
  const col = <T>(f: (w: Create) => T): T[] => writes.map(f);
  const inserted = await client.query<{ run_id: string }>(
    `INSERT INTO ${s}.llmo_runs (run_id, topology, version, status, input, tenant, fork_run_id, fork_node_id,
       created_at, updated_at, last_seq, lease_owner, lease_until, creator)
     SELECT u.run_id, u.topology, u.version, 'running', u.input, u.tenant, u.fork_run_id, u.fork_node_id,
       u.created_at, u.created_at, -1, u.owner, u.lease_until, u.creator
     FROM unnest($1::text[], $2::text[], $3::text[], $4::json[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[], $11::bigint[])
       AS u(run_id, topology, version, input, tenant, fork_run_id, fork_node_id, created_at, owner, lease_until, creator)
     ON CONFLICT (run_id) DO NOTHING
     RETURNING run_id`,
    [
      col((w) => w.run.runId), col((w) => w.run.topology), col((w) => w.run.version), col((w) => jsonText(w.run.input)),
      col((w) => w.run.tenant ?? null), col((w) => w.run.forkOf?.runId ?? null), col((w) => w.run.forkOf?.nodeId ?? null),
      col((w) => w.run.createdAt), col((w) => w.run.owner), col((w) => w.row.leaseUntil ?? null), col((w) => w.id),
    ],
  );
  if (inserted.rowCount === writes.length) return;
  const fresh = new Set(inserted.rows.map((r) => r.run_id));
  const taken = writes.filter((w) => !fresh.has(w.run.runId));
  const existing = await client.query<{ run_id: string; creator: string }>(
    `SELECT run_id, creator::text AS creator FROM ${s}.llmo_runs WHERE run_id = ANY($1::text[])`,
    [taken.map((w) => w.run.runId)],
  );
  const creators = new Map(existing.rows.map((r) => [r.run_id, r.creator]));
  for (const w of taken) {
    // The same creation again: this batch is being re-run after an unknown COMMIT outcome.
    if (creators.get(w.run.runId) !== w.id) throw runExists(w.run.runId);
  }
}

async function appendEvents(client: pg.PoolClient, s: string, writes: readonly { readonly id: string; readonly e: StoredEvent }[]): Promise<void> {
  const events = writes.map((w) => w.e);
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.runId))].sort();
  // Row locks, in a fixed order: one writer per run at a time, no deadlocks between batches.
  const locked = await client.query<RunsRow>(`SELECT ${RUN_STATE_COLUMNS} FROM ${s}.llmo_runs r WHERE r.run_id = ANY($1::text[]) ORDER BY r.run_id FOR UPDATE`, [ids]);
  const rows = new Map(locked.rows.map((r) => [r.run_id, fromSql(r)]));
  for (const id of ids) if (!rows.has(id)) throw runNotFound(id);

  const fresh: StoredEvent[] = [];
  const freshText: string[] = [];
  const freshIds: string[] = [];
  const written = new Set<string>(); // runId:seq written by this batch
  const seen: { e: StoredEvent; text: string; id: string }[] = [];
  for (const { id, e } of writes) {
    const row = rows.get(e.runId) as RunRow;
    const text = JSON.stringify(e);
    if (e.seq <= row.lastSeq) {
      if (written.has(`${e.runId}:${e.seq}`)) throw seqConflict(row, e);
      seen.push({ e, text, id });
      continue;
    }
    applyEvent(row, e);
    fresh.push(e);
    freshText.push(text);
    freshIds.push(id);
    written.add(`${e.runId}:${e.seq}`);
  }
  if (seen.length > 0) {
    const stored = await client.query<{ run_id: string; seq: number; body: string; write_id: string }>(
      `SELECT e.run_id, e.seq, e.body::text AS body, e.write_id::text AS write_id FROM ${s}.llmo_events e
       JOIN unnest($1::text[], $2::int[]) AS k(run_id, seq) ON e.run_id = k.run_id AND e.seq = k.seq`,
      [seen.map((x) => x.e.runId), seen.map((x) => x.e.seq)],
    );
    const byKey = new Map(stored.rows.map((r) => [`${r.run_id}:${r.seq}`, r]));
    for (const { e, text, id } of seen) {
      // Written by this very write (a re-run after an unknown COMMIT outcome): already durable.
      const got = byKey.get(`${e.runId}:${e.seq}`);
      if (got?.write_id !== id || got.body !== text) throw seqConflict(rows.get(e.runId) as RunRow, e);
    }
  }
  if (fresh.length === 0) return;

  // The bodies go as one JSON array (split by the server, each element's text kept as it is),
  // not as a json[] literal, which would escape every quote of every body on the way.
  await client.query(
    `INSERT INTO ${s}.llmo_events (run_id, seq, ts, type, node_id, body, write_id)
     SELECT u.run_id, u.seq, u.ts, u.type, u.node_id, b.body, u.write_id
     FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY AS u(run_id, seq, ts, type, node_id, write_id, i)
     JOIN json_array_elements($7::json) WITH ORDINALITY AS b(body, i) ON b.i = u.i`,
    [fresh.map((e) => e.runId), fresh.map((e) => e.seq), fresh.map((e) => e.ts), fresh.map((e) => e.type), fresh.map((e) => e.nodeId ?? null), freshIds, `[${freshText.join(',')}]`],
  );
  const touched = [...new Set(fresh.map((e) => e.runId))].map((id) => rows.get(id) as RunRow);
  const col = <T>(f: (r: RunRow) => T): T[] => touched.map(f);
  await client.query(
    `UPDATE ${s}.llmo_runs r SET status = u.status, updated_at = u.updated_at, last_seq = u.last_seq, output = u.output, error = u.error,
       lease_owner = u.lease_owner, lease_until = u.lease_until, wait_node_id = u.wait_node_id, wait_name = u.wait_name,
       wait_timeout_at = u.wait_timeout_at, signalled = u.signalled
     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::json[], $6::json[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::boolean[])
       AS u(run_id, status, updated_at, last_seq, output, error, lease_owner, lease_until, wait_node_id, wait_name, wait_timeout_at, signalled)
     WHERE r.run_id = u.run_id`,
    [
      col((r) => r.runId), col((r) => r.status), col((r) => r.updatedAt), col((r) => r.lastSeq), col((r) => jsonText(r.output)),
      col((r) => jsonText(r.error)), col((r) => r.leaseOwner ?? null), col((r) => r.leaseUntil ?? null), col((r) => r.wait?.nodeId ?? null),
      col((r) => r.wait?.name ?? null), col((r) => r.wait?.timeoutAt ?? null), col((r) => r.signalled),
    ],
  );
}

/**
 * Writes a batch in the open transaction of `client` (the caller runs BEGIN/COMMIT):
 * every create first, then every append, in queue order. Throws the first write's
 * `RUN_EXISTS`, `RUN_NOT_FOUND` or `SEQ_CONFLICT` (the queue then re-runs the batch
 * one write at a time, so only that write fails).
 *
 * @example
 * ```ts
 * await client.query('BEGIN');
 * await writeBatch(client, '"public"', batch);
 * await client.query('COMMIT');
 * ```
 */
export async function writeBatch(client: pg.PoolClient, s: string, batch: readonly Write[]): Promise<void> {
  const creates: Create[] = [];
  const events: { readonly id: string; readonly e: StoredEvent }[] = [];
  for (const w of batch) {
    if (w.kind === 'create') creates.push(w);
    // a run's first events ride with its creation, under its write id
    for (const e of (w.kind === 'create' ? w.run.events : w.events) ?? []) events.push({ id: w.id, e });
  }
  await createRuns(client, s, creates);
  await appendEvents(client, s, events);
}
