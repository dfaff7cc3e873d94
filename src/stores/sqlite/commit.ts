/**
 * The SQLite store's group commit: a batch of queued writes (`createRun`, `append`) in one
 * immediate transaction, reading nothing in the usual case (see {@link createCommit}).
 * @module
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../../errors.ts';
import type { StoredEvent } from '../../runtime/store.ts';
import { deltaOf } from '../delta.ts';
import { applyEvent, runExists, runNotFound, seqConflict, type RunRow } from '../rows.ts';
import { sqliteCode, toStoreError } from './errors.ts';
import { RunHeads, type HeadChange, type RunHead } from './heads.ts';
import { insertEventRows, type EventRowWrite } from './event-rows.ts';
import { changesRunRow, deltaParams, insertParams, type Statements } from './statements.ts';

/**
 * A queued write: a run created (with its first events, if any), or events appended.
 *
 * @example
 * ```ts
 * const w: Write = { kind: 'append', events: [{ runId: 'r1', seq: 0, ts: Date.now(), type: 'run.started' }] };
 * ```
 */
export type Write = { readonly kind: 'create'; readonly row: RunRow; readonly events?: readonly StoredEvent[] } | { readonly kind: 'append'; readonly events: readonly StoredEvent[] };

const NO_EVENTS: readonly StoredEvent[] = [];

/** The SEQ_CONFLICT of events that do not follow on from `lastSeq` one by one. */
function conflictIn(runId: string, lastSeq: number, events: readonly StoredEvent[]): StoreError {
  let at = lastSeq;
  for (const e of events) {
    if (e.seq !== at + 1) return seqConflict({ runId, lastSeq: at }, e);
    at = e.seq;
  }
  return seqConflict({ runId, lastSeq }, events[0]!);
}

/** Whether every event is of the first one's run. */
function oneRun(events: readonly StoredEvent[]): boolean {
  const runId = events[0]!.runId;
  for (let i = 1; i < events.length; i++) if (events[i]!.runId !== runId) return false;
  return true;
}

/** Adds `events` to their runs' lists, in order; a list taken whole from a write is copied (into `owned`) before it grows. */
function group(byRun: Map<string, readonly StoredEvent[]>, events: readonly StoredEvent[], owned: Set<readonly StoredEvent[]>): void {
  for (const e of events) {
    const list = byRun.get(e.runId);
    if (list !== undefined && owned.has(list)) {
      (list as StoredEvent[]).push(e);
      continue;
    }
    const mine = list === undefined ? [e] : [...list, e];
    owned.add(mine);
    byRun.set(e.runId, mine);
  }
}

/** Runs whose head the store keeps (about 100 bytes each). */
const HEAD_CACHE = 100_000;

/** Ended and parked runs leave the head cache: whoever appends next (often another process) reads where they stand. */
const forgets = (status: string | undefined): boolean => status !== undefined && status !== 'running';

/**
 * The commit function of a store's write queue, and `forget()` for when runs were deleted
 * (the head cache starts over).
 *
 * @example
 * ```ts
 * const commit = createCommit(db, stmts, 'runs.db');
 * const queue = createWriteQueue<Write>({ commit, schedule: queueMicrotask, what: 'run store runs.db' });
 * ```
 */
export function createCommit(db: Database.Database, stmts: Statements, location: string): ((batch: readonly Write[]) => void) & { forget(): void } {
  const heads = new RunHeads(HEAD_CACHE);
  const readHead = (runId: string): RunHead => {
    const r = stmts.head.get(runId) as [number, number] | undefined;
    if (r === undefined) throw runNotFound(runId);
    return { key: r[0], seq: r[1] };
  };

  /**
   * One group commit, reading nothing in the usual case. New runs first: their events of the
   * same batch folded into the row they are inserted with. Then per run: where it stands (the
   * head cache, else one read, which also finds an unknown run), its events checked to follow
   * on, its row updated only when they change it (status, wait, output, lease), and its
   * events written as one row. A seq another writer took fails the insert (`SEQ_CONFLICT`).
   * Any error rolls the whole batch back (the queue then isolates); the head cache learns
   * what a batch did only once it committed.
   */
  const applyBatch = (batch: readonly Write[]): HeadChange[] => {
    const created = new Map<string, RunRow>();
    const byRun = new Map<string, readonly StoredEvent[]>();
    const owned = new Set<readonly StoredEvent[]>();
    for (const w of batch) {
      if (w.kind === 'create') {
        if (created.has(w.row.runId)) throw runExists(w.row.runId);
        created.set(w.row.runId, { ...w.row });
      }
      const events = w.events ?? NO_EVENTS;
      if (events.length === 0) continue;
      const runId = events[0]!.runId;
      // the usual write (a journal's): one run's events, that run's only write in the batch
      if (oneRun(events) && !byRun.has(runId)) byRun.set(runId, events);
      else group(byRun, events, owned);
    }
    const rows: EventRowWrite[] = [];
    const changes: HeadChange[] = [];
    for (const [runId, row] of created) {
      const events = byRun.get(runId);
      if (events !== undefined) {
        try {
          for (const e of events) applyEvent(row, e);
        } catch (e) {
          // a taken id is that, whatever its events
          if (stmts.head.get(runId) !== undefined) throw runExists(runId);
          throw e;
        }
        byRun.delete(runId);
      }
      const r = stmts.insertRun.run(insertParams(row));
      if (r.changes === 0) throw runExists(runId);
      const key = Number(r.lastInsertRowid);
      if (events !== undefined) rows.push({ runKey: key, events });
      changes.push({ runId, key, seq: row.lastSeq, forget: forgets(row.status) });
    }
    for (const [runId, events] of byRun) {
      const first = events[0]!.seq;
      let head = heads.get(runId);
      if (head === undefined || head.seq !== first - 1) head = readHead(runId);
      const d = deltaOf(events);
      if (d === undefined || head.seq !== first - 1) throw conflictIn(runId, head.seq, events);
      if (changesRunRow(d)) stmts.applyDelta.run(deltaParams(head.key, d));
      rows.push({ runKey: head.key, events });
      changes.push({ runId, key: head.key, seq: d.lastSeq, forget: forgets(d.status) });
    }
    try {
      insertEventRows(stmts, rows);
    } catch (e) {
      if (sqliteCode(e) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreError('SEQ_CONFLICT', `run store ${location}: an appended event seq is already taken (two writers on one run?)`, { cause: e });
      }
      throw e;
    }
    return changes;
  };
  const transaction = db.transaction(applyBatch);
  const commit = (batch: readonly Write[]): void => {
    let changes: HeadChange[];
    try {
      changes = transaction.immediate(batch);
    } catch (e) {
      throw toStoreError(e, batch.length === 1 ? (batch[0]?.kind === 'create' ? 'createRun' : 'append') : 'a batch of writes', location);
    }
    heads.apply(changes);
  };
  return Object.assign(commit, { forget: () => heads.clear() });
}
