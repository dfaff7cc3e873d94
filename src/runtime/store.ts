/**
 * The run store contract: what the engine needs from a durable home for runs.
 * The engine (this layer) only knows this interface; the implementations (the
 * embedded SQLite file, PostgreSQL, an in-memory one for tests) live in
 * `src/stores/` and import it, never the reverse.
 *
 * A run's history is an append-only log of events numbered by `seq` from 0
 * without gaps. The store keeps one row per run beside it (status, lease, wait),
 * derived from the events it appends, so listing and claiming never scan logs.
 * @module
 */
import type { SerializedError } from '../errors.ts';

/**
 * Where a stored run stands. `running` covers admitted runs and runs whose
 * process died (their lease tells which); `waiting` is parked on a `wait` node
 * and holds no process.
 *
 * @example
 * ```ts
 * const open: StoredRunStatus[] = ['running', 'waiting'];
 * ```
 */
export type StoredRunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

/**
 * The statuses of a run that has ended: its output or error is final.
 *
 * @example
 * ```ts
 * if (ENDED_STATUSES.includes(record.status)) console.log('ended');
 * ```
 */
export const ENDED_STATUSES: readonly StoredRunStatus[] = ['completed', 'failed', 'cancelled'];

/**
 * One event of a run's log: a lifecycle event as the engine's bus carries it
 * (`RunEvent`, plain JSON) or a store-only event (`run.waiting`, `run.signalled`,
 * `run.recovered`, ...). The store indexes `runId`, `seq`, `ts`, `type` and
 * `nodeId` and keeps the whole object as JSON.
 *
 * @example
 * ```ts
 * const e: StoredEvent = { runId: 'r1', seq: 3, ts: Date.now(), type: 'node.completed', nodeId: 'draft', output: 'Hi' };
 * ```
 */
export interface StoredEvent {
  readonly runId: string;
  /** Position in the run's log, from 0 without gaps. */
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly ts: number;
  readonly type: string;
  readonly nodeId?: string;
  readonly [field: string]: unknown;
}

/**
 * What a run is created with.
 *
 * @example
 * ```ts
 * await store.createRun({ runId: 'r1', topology: 'rag', version: 'v2:9f2c…', input: { q: 'hi' }, createdAt: Date.now(), owner: 'host:42:ab12', leaseMs: 15_000 });
 * ```
 */
export interface NewRun {
  readonly runId: string;
  readonly topology: string;
  /** The topology version: a hash of its definition (see the engine's `topologyVersion`). */
  readonly version: string;
  readonly input: unknown;
  readonly createdAt: number;
  readonly tenant?: string;
  /** For a fork: the run and node it was forked from. */
  readonly forkOf?: { readonly runId: string; readonly nodeId: string };
  /** The creating process takes the run's lease at once. */
  readonly owner: string;
  readonly leaseMs: number;
  /**
   * The run's first events (seq 0 on, this run's only), stored with its row in one commit: both
   * or neither. Saves a write per run (an engine creates each run with what happened before its
   * row was written: `run.started` and often a first node).
   */
  readonly events?: readonly StoredEvent[];
}

/**
 * A stored run's row.
 *
 * @example
 * ```ts
 * const r = await store.getRun('r1');
 * if (r?.status === 'waiting') console.log(r.wait?.name);
 * ```
 */
export interface RunRecord {
  readonly runId: string;
  readonly topology: string;
  readonly version: string;
  readonly status: StoredRunStatus;
  readonly input: unknown;
  readonly tenant?: string;
  readonly forkOf?: { readonly runId: string; readonly nodeId: string };
  readonly createdAt: number;
  /** `ts` of the last event appended. */
  readonly updatedAt: number;
  /** `seq` of the last event appended; -1 before the first. */
  readonly lastSeq: number;
  /** Terminal runs: the run's output (completed) or error (failed, cancelled). */
  readonly output?: unknown;
  readonly error?: SerializedError;
  /** The process holding the run, and until when (epoch ms). Absent once released or ended. */
  readonly leaseOwner?: string;
  readonly leaseUntil?: number;
  /** Parked runs: the wait they are parked on, and when it times out (epoch ms; absent for never). */
  readonly wait?: { readonly nodeId: string; readonly name: string; readonly timeoutAt?: number };
}

/**
 * Filter and page of {@link RunStore.listRuns}.
 *
 * @example
 * ```ts
 * const page = await store.listRuns({ status: ['running'], topology: 'rag', limit: 50 });
 * ```
 */
export interface RunQuery {
  readonly status?: readonly StoredRunStatus[];
  readonly topology?: string;
  readonly tenant?: string;
  /** Newest first; default 100, at most 1000. */
  readonly limit?: number;
  /** The `next` cursor of the previous page. */
  readonly cursor?: string;
}

/**
 * Which runs {@link RunStore.claim} may take.
 *
 * @example
 * ```ts
 * const mine = await store.claim({ owner: 'host:42:ab12', leaseMs: 15_000, limit: 100, now: Date.now() });
 * ```
 */
export interface ClaimRequest {
  /** The claiming process (unique per process: `host:pid:random`). */
  readonly owner: string;
  readonly leaseMs: number;
  readonly limit: number;
  /** The clock to judge leases and wait timeouts by (epoch ms). */
  readonly now: number;
  /** Only these topologies (the ones the claiming engine can run). */
  readonly topologies?: readonly string[];
  /** Only these runs (e.g. the run a redelivered Kafka request names, or a signalled run). */
  readonly runIds?: readonly string[];
  /**
   * Owners known dead although their lease has not expired (e.g. a process on this
   * host that no longer exists): their runs may be taken at once.
   */
  readonly isDead?: (owner: string) => boolean;
  /**
   * Also take `waiting` runs whose wait has timed out (`timeoutAt <= now`) or that
   * have a `run.signalled` event after their last `run.waiting`. Default false.
   */
  readonly wakeable?: boolean;
}

/**
 * Retention: which ended runs {@link RunStore.deleteRuns} removes, with their logs.
 *
 * @example
 * ```ts
 * await store.deleteRuns({ endedBefore: Date.now() - 30 * 86_400_000 });
 * ```
 */
export interface RetentionRequest {
  /** Ended (completed, failed, cancelled) runs whose last event is older than this (epoch ms). */
  readonly endedBefore: number;
  readonly status?: readonly ('completed' | 'failed' | 'cancelled')[];
}

/**
 * A request to cancel a running run that another process holds (see {@link RunStore.requestCancel}).
 *
 * @example
 * ```ts
 * const r: CancelRequest = { runId: 'r1', reason: 'runaway', at: Date.now() };
 * ```
 */
export interface CancelRequest {
  readonly runId: string;
  readonly reason?: string;
  /** When it was made, epoch ms. */
  readonly at: number;
}

/**
 * A durable home for runs. Every method may reject with a `StoreError`
 * (`code`, `retriable`, `cause`); none fails silently.
 *
 * Writes (`createRun`, `append`) go through one queue and are committed in
 * batches (group commit): every write made while a commit is in flight rides in
 * the next one. One run's writes commit in the order they were made (PostgreSQL
 * may commit other runs' batches alongside). A write's promise resolves only once
 * it is durable (survives `kill -9` of the process; for PostgreSQL, committed).
 *
 * @example
 * ```ts
 * const store = await openStore('runs.db');
 * await store.createRun({ runId: 'r1', topology: 'rag', version, input, createdAt: Date.now(), owner, leaseMs: 15_000 });
 * await store.append([{ runId: 'r1', seq: 0, ts: Date.now(), type: 'run.started', priority: 'normal' }]);
 * const events = await store.history('r1');
 * ```
 */
export interface RunStore {
  /** `memory`, `sqlite` or `postgres`. */
  readonly kind: string;
  /** A redacted description (file path, or URL without its password), for logs and errors. */
  readonly location: string;
  /** Creates a run's row; rejects with `RUN_EXISTS` when the id is taken. */
  createRun(run: NewRun): Promise<void>;
  /**
   * Appends events (of one or many runs, each run's in `seq` order) and updates each
   * run's row from them: status from `run.started`/`run.recovered` (running),
   * `run.waiting` (waiting), `run.completed`/`run.failed`/`run.cancelled` (ended:
   * output or error kept, lease cleared). Rejects with `SEQ_CONFLICT` when a `seq`
   * is taken (two writers on one run) and `RUN_NOT_FOUND` for an unknown run; a
   * rejected batch writes nothing of the runs it names.
   */
  append(events: readonly StoredEvent[]): Promise<void>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** A run's events in `seq` order, optionally a window of them. */
  history(runId: string, range?: { readonly fromSeq?: number; readonly toSeq?: number; readonly untilTs?: number }): Promise<StoredEvent[]>;
  listRuns(query?: RunQuery): Promise<{ readonly runs: RunRecord[]; readonly next?: string }>;
  /**
   * Atomically takes the lease of runs that are `running` with no live lease (expired,
   * released, or `isDead`), and with `wakeable` also waiting runs ready to wake. Two
   * concurrent claims never return the same run.
   */
  claim(request: ClaimRequest): Promise<RunRecord[]>;
  /** Extends the leases `owner` still holds; resolves with the run ids it still holds. */
  renew(owner: string, runIds: readonly string[], leaseMs: number, now: number): Promise<string[]>;
  /** Gives up leases (a parked or drained run), so another process may claim it. */
  release(owner: string, runIds: readonly string[]): Promise<void>;
  /** Deletes ended runs and their logs (and cancel requests); resolves with how many runs were deleted. */
  deleteRuns(request: RetentionRequest): Promise<number>;
  /**
   * Records a request to cancel a `running` run (a later one replaces it); resolves false, recording
   * nothing, when the run is not running (unknown, parked or ended). The process holding the run's
   * lease reads it at its next renewal ({@link RunStore.cancelRequests}) and cancels the run there;
   * a process that recovers the run after its holder died cancels it instead of resuming it.
   * Optional: an engine on a store without it cancels only runs it can claim.
   */
  requestCancel?(request: CancelRequest): Promise<boolean>;
  /** The cancel requests of these runs (those that have one), in no particular order. */
  cancelRequests?(runIds: readonly string[]): Promise<CancelRequest[]>;
  /** Commits what is queued, then closes. Further calls reject with `STORE_CLOSED`. */
  close(): Promise<void>;
}
