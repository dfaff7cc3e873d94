/**
 * The state of a stored run at any point of its log: a pure fold of its events
 * (what recovery resumes from and what time travel shows).
 * @module
 */
import type { Priority } from '../definition/types.ts';
import type { SerializedError } from '../errors.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { StoredEvent } from './store.ts';
import { RunDecisionSchema, type RunDecision } from './loop.ts';
import { exactTraceContext, TraceContextSchema, type TraceContext } from './trace-context.ts';

/**
 * Where a run stands in a fold. `pending` before its first event.
 *
 * @example
 * ```ts
 * const s: FoldedRunStatus = foldRun([]).status; // 'pending'
 * ```
 */
export type FoldedRunStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';

/**
 * Where a node stands in a fold. A `node.started` without an end is `running`, or
 * `waiting` while its run is parked on it (`run.waiting` names it, until `run.signalled`);
 * a `node.resumed` counts as `completed` (with its output).
 *
 * @example
 * ```ts
 * const st: FoldedNodeStatus = foldRun(events).nodes.draft?.status ?? 'pending';
 * ```
 */
export type FoldedNodeStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'skipped' | 'cancelled';

/**
 * One node's state in a fold.
 *
 * @example
 * ```ts
 * const n: FoldedNode = { status: 'completed', output: 'Hi', starts: 1 };
 * ```
 */
export interface FoldedNode {
  readonly status: FoldedNodeStatus;
  /** Completed (or resumed) nodes: their output. */
  readonly output?: unknown;
  /** Failed or cancelled nodes: why. */
  readonly error?: SerializedError | undefined;
  /** How many `node.started` events the node has (runs again after a recovery count). */
  readonly starts: number;
}

/**
 * A run's state after a prefix of its log.
 *
 * @example
 * ```ts
 * const s: FoldedRun = foldRun(await store.history(runId));
 * console.log(s.status, s.outputs);
 * ```
 */
export interface FoldedRun {
  readonly status: FoldedRunStatus;
  /** By node id: nodes with at least one event. */
  readonly nodes: Readonly<Record<string, FoldedNode>>;
  /** Output by node id of the completed (and resumed) nodes. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Ended runs: the run's output (completed) or error (failed, cancelled). */
  readonly output?: unknown;
  readonly error?: SerializedError | undefined;
  /** Token and cost totals as of the last terminal event that carried them. */
  readonly usage?: UsageTotals;
  /**
   * What the run's nodes spent so far, by node id: the sum of the usage their `node.completed` and
   * `node.failed` events carry (a recovered run starts its totals from it; calls cut by a crash are not in it).
   */
  readonly spent?: Readonly<Record<string, UsageTotals>>;
  /** What the engine's loop decided for the run (from its first `run.started` that carries one). */
  readonly decision?: RunDecision;
  /** The W3C trace context the run continues (from its `run.started`). */
  readonly traceContext?: TraceContext;
  /** Who the run is for and what its cost is attributed to (RunOptions `user`, `project`; from its first `run.started`). */
  readonly user?: string;
  readonly project?: string;
  /** The priority the run was started with (from its first `run.started`; a recovered run keeps it). */
  readonly priority?: Priority;
  /** When the run must end by, epoch ms, and the budget that was (RunOptions `deadlineMs`; from its first `run.started`). */
  readonly deadline?: number;
  readonly deadlineMs?: number;
  /**
   * A cancellation of the run while it was parked (`engine.cancel`, recorded as the end of its wait:
   * a `run.signalled` with `cancel`): whoever resumes the run cancels it.
   */
  readonly cancel?: { readonly reason?: string; readonly ts: number };
  /** `seq` of the last event folded; -1 for none. */
  readonly lastSeq: number;
  /** `ts` of the last event folded; undefined for none. */
  readonly lastTs?: number;
}

const PRIORITY_NAMES: ReadonlySet<unknown> = new Set<Priority>(['high', 'normal', 'low']);

/** What only a run's first `run.started` says: its priority and deadline (a recovered run's later ones restate them). */
function firstStart(s: Mutable<FoldedRun>, e: StoredEvent): void {
  if (PRIORITY_NAMES.has(e['priority'])) s.priority = e['priority'] as Priority;
  const deadline = e['deadline'];
  const ms = e['deadlineMs'];
  if (typeof deadline === 'number' && Number.isFinite(deadline) && typeof ms === 'number' && ms > 0) {
    s.deadline = deadline;
    s.deadlineMs = ms;
  }
}

/**
 * Where to stop folding: the state as of event `seq` (inclusive) and/or time `ts` (inclusive, epoch ms).
 *
 * @example
 * ```ts
 * foldRun(events, { seq: 5 });
 * ```
 */
export interface FoldAt {
  readonly seq?: number;
  readonly ts?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Folds a run's stored events (in `seq` order) into its state, optionally only up to
 * a `seq` or a time. Pure: the same events give the same state. Events of types it
 * does not know are counted in `lastSeq` and otherwise ignored.
 *
 * @example
 * ```ts
 * const events = await store.history('r1');
 * const before = foldRun(events, { seq: 3 });
 * const now = foldRun(events);
 * ```
 */
export function foldRun(events: readonly StoredEvent[], at: FoldAt = {}): FoldedRun {
  const nodes: Record<string, FoldedNode> = {};
  const outputs: Record<string, unknown> = {};
  const s: Mutable<FoldedRun> = { status: 'pending', nodes, outputs, lastSeq: -1 };
  for (const e of events) {
    if (at.seq !== undefined && e.seq > at.seq) break;
    if (at.ts !== undefined && e.ts > at.ts) break;
    s.lastSeq = e.seq;
    s.lastTs = e.ts;
    const id = e.nodeId;
    const prev = id === undefined ? undefined : nodes[id];
    const starts = prev?.starts ?? 0;
    switch (e.type) {
      case 'run.started':
        if (s.decision === undefined && e['decision'] !== undefined) {
          const d = RunDecisionSchema.safeParse(e['decision']);
          if (d.success) s.decision = d.data;
        }
        if (s.traceContext === undefined && e['trace'] !== undefined) {
          const t = TraceContextSchema.safeParse(e['trace']);
          if (t.success) s.traceContext = exactTraceContext(t.data);
        }
        if (s.user === undefined && typeof e['user'] === 'string' && e['user'] !== '') s.user = e['user'];
        if (s.project === undefined && typeof e['project'] === 'string' && e['project'] !== '') s.project = e['project'];
        if (s.status === 'pending') firstStart(s, e);
        s.status = 'running';
        break;
      case 'run.recovered':
        s.status = 'running';
        break;
      case 'run.signalled':
      case 'run.waiting': {
        s.status = e.type === 'run.waiting' ? 'waiting' : 'running';
        if (e.type === 'run.signalled' && typeof e['cancel'] === 'object' && e['cancel'] !== null) {
          const reason = (e['cancel'] as { reason?: unknown }).reason;
          s.cancel = typeof reason === 'string' ? { reason, ts: e.ts } : { ts: e.ts };
        }
        const n = id === undefined ? undefined : nodes[id];
        if (n !== undefined && (n.status === 'running' || n.status === 'waiting')) nodes[id!] = { status: e.type === 'run.waiting' ? 'waiting' : 'running', starts: n.starts };
        break;
      }
      case 'run.completed':
        s.status = 'completed';
        s.output = e['output'];
        takeUsage(s, e);
        break;
      case 'run.failed':
      case 'run.cancelled':
        s.status = e.type === 'run.failed' ? 'failed' : 'cancelled';
        s.error = e['error'] as SerializedError | undefined;
        takeUsage(s, e);
        break;
      case 'node.started':
        if (id !== undefined) {
          nodes[id] = { status: 'running', starts: starts + 1 };
          delete outputs[id];
        }
        break;
      case 'node.completed':
      case 'node.resumed':
        if (id !== undefined && e.type === 'node.completed') addSpent(s, id, e);
        if (id !== undefined) {
          nodes[id] = { status: 'completed', output: e['output'], starts };
          outputs[id] = e['output'];
        }
        break;
      case 'node.failed':
      case 'node.cancelled':
        if (id !== undefined && e.type === 'node.failed') addSpent(s, id, e);
        if (id !== undefined) {
          nodes[id] = { status: e.type === 'node.failed' ? 'failed' : 'cancelled', error: e['error'] as SerializedError | undefined, starts };
          delete outputs[id];
        }
        break;
      case 'node.skipped':
        if (id !== undefined) {
          nodes[id] = { status: 'skipped', starts };
          delete outputs[id];
        }
        break;
      default:
        break;
    }
  }
  return s;
}

function addSpent(s: Mutable<FoldedRun>, id: string, e: StoredEvent): void {
  const u = e['usage'] as Partial<UsageTotals> | undefined;
  if (typeof u !== 'object' || u === null) return;
  const spent = (s.spent ??= {}) as Record<string, UsageTotals>;
  const t = spent[id] ?? { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 };
  spent[id] = {
    inputTokens: t.inputTokens + (u.inputTokens ?? 0), outputTokens: t.outputTokens + (u.outputTokens ?? 0), cachedTokens: t.cachedTokens + (u.cachedTokens ?? 0),
    reasoningTokens: t.reasoningTokens + (u.reasoningTokens ?? 0), costUsd: t.costUsd + (u.costUsd ?? 0), calls: t.calls + (u.calls ?? 0),
  };
}

function takeUsage(s: Mutable<FoldedRun>, e: StoredEvent): void {
  const u = e['usage'];
  if (typeof u === 'object' && u !== null) s.usage = u as UsageTotals;
}
