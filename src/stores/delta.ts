/**
 * A run's row change from its events alone (no read of the row): what lets a SQL
 * store update many runs with one guarded statement.
 * @module
 */
import type { SerializedError } from '../errors.ts';
import type { StoredEvent, StoredRunStatus } from '../runtime/store.ts';
import { seqConflict, waitOf, type RunRow } from './rows.ts';

/**
 * What a run's consecutive events do to its row, known without reading the row:
 * the seq it must be at (`first - 1`), its new `lastSeq`/`updatedAt`, and each field
 * the events set (a field left out keeps the row's value). `applyDelta(row, deltaOf(events))`
 * equals folding the events one by one with {@link applyEvent}, so a store can update a
 * row with one guarded statement instead of reading it first.
 *
 * @example
 * ```ts
 * const d = deltaOf(events); // undefined when their seqs are not consecutive
 * if (d !== undefined) applyDelta(row, d);
 * ```
 */
export interface RunDelta {
  /** `seq` of the first event: the row must be at `first - 1`. */
  readonly first: number;
  readonly lastSeq: number;
  readonly updatedAt: number;
  status?: StoredRunStatus;
  /** `null` clears the wait. */
  wait?: { readonly nodeId: string; readonly name: string; readonly timeoutAt?: number } | null;
  signalled?: boolean;
  /** Whether `output` is set (a `run.completed` with an output). */
  setOutput: boolean;
  output?: unknown;
  error?: SerializedError;
  /** An ended run gives up its lease. */
  clearLease: boolean;
}

/**
 * The {@link RunDelta} of one run's events (non-empty, in order), or undefined when
 * their seqs are not consecutive (the caller then folds them with {@link applyEvent},
 * which throws the right `SEQ_CONFLICT`).
 *
 * @example
 * ```ts
 * const d = deltaOf([{ runId: 'r1', seq: 4, ts, type: 'node.started', nodeId: 'a' }]); // { first: 4, lastSeq: 4, ... }
 * ```
 */
export function deltaOf(events: readonly StoredEvent[]): RunDelta | undefined {
  const first = events[0];
  if (first === undefined) return undefined;
  const last = events[events.length - 1]!;
  const d: RunDelta = { first: first.seq, lastSeq: last.seq, updatedAt: last.ts, setOutput: false, clearLease: false };
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.seq !== first.seq + i) return undefined;
    switch (e.type) {
      case 'run.started':
      case 'run.recovered':
        d.status = 'running';
        d.wait = null;
        d.signalled = false;
        break;
      case 'run.waiting':
        d.status = 'waiting';
        d.wait = waitOf(e);
        d.signalled = false;
        break;
      case 'run.signalled':
        d.signalled = true;
        break;
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled':
        d.status = e.type === 'run.completed' ? 'completed' : e.type === 'run.failed' ? 'failed' : 'cancelled';
        if (e.type === 'run.completed') {
          if (e['output'] !== undefined) {
            d.setOutput = true;
            d.output = e['output'];
          }
        } else if (e['error'] !== undefined) {
          d.error = e['error'] as SerializedError;
        }
        d.wait = null;
        d.clearLease = true;
        d.signalled = false;
        break;
      default:
        break;
    }
  }
  return d;
}

/**
 * Applies a {@link RunDelta} to a row (in place); throws `SEQ_CONFLICT` when the row is
 * not at `first - 1`.
 *
 * @example
 * ```ts
 * applyDelta(row, deltaOf(events)!);
 * ```
 */
export function applyDelta(row: RunRow, d: RunDelta): void {
  if (row.lastSeq !== d.first - 1) throw seqConflict(row, { runId: row.runId, seq: d.first, ts: d.updatedAt, type: 'append' });
  row.lastSeq = d.lastSeq;
  row.updatedAt = d.updatedAt;
  if (d.status !== undefined) row.status = d.status;
  if (d.wait === null) delete row.wait;
  else if (d.wait !== undefined) row.wait = d.wait;
  if (d.signalled !== undefined) row.signalled = d.signalled;
  if (d.setOutput) row.output = d.output;
  if (d.error !== undefined) row.error = d.error;
  if (d.clearLease) {
    delete row.leaseOwner;
    delete row.leaseUntil;
  }
}

