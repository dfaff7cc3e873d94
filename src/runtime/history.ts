/**
 * Lifecycle events made from a run's compact trace. A run records two numbers
 * per event; the event objects are built only for a live subscriber (one at a
 * time, as they happen) or when a result's history is read. Each event type is
 * built as one object literal of a fixed shape: no spreads, no copies but the
 * terminal event's usage totals.
 * @module
 */
import { CancelledError, serializeError, type OrchestratorError } from '../errors.ts';
import {
  EV, type NodeCancelledEvent, type NodeCompensatedEvent, type NodeCompensationFailedEvent, type NodeCompletedEvent, type NodeFailedEvent,
  type NodeFallbackEvent, type NodeResumedEvent, type NodeRetryEvent, type NodeSkippedEvent, type NodeStartedEvent, type RunCancelledEvent,
  type RunCompletedEvent, type RunEvent, type RunFailedEvent, type RunStartedEvent,
} from './events.ts';
import type { Note, Run } from './run.ts';
import { PRIORITIES, R_FAILED } from './states.ts';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Adds the parent run id of a child run's event, and the run's variant and policy version. */
function stamped<E extends { parentRunId?: string; variant?: string; policyVersion?: number }>(e: E, run: Run): E {
  if (run.parent !== undefined) e.parentRunId = run.parent.id;
  const d = run.decision;
  if (d !== undefined) {
    if (d.variant !== undefined) e.variant = d.variant;
    if (d.policyVersion !== undefined) e.policyVersion = d.policyVersion;
  }
  return e;
}

/** A run end event's tenant and user. */
function who<E extends { tenant?: string; user?: string }>(e: E, run: Run): E {
  if (run.tenant !== undefined) e.tenant = run.tenant;
  if (run.user !== undefined && run.parent === undefined) e.user = run.user;
  return e;
}

/**
 * The error a node of an ended run sees as its signal's reason: the run's own
 * cancellation, or, when the run failed, a cancellation caused by that failure.
 *
 * @example
 * ```ts
 * run.ctl?.abort(abortReasonOf(R_FAILED, nodeError));
 * ```
 */
export function abortReasonOf(status: number, error: OrchestratorError | undefined): OrchestratorError | undefined {
  return status === R_FAILED && error !== undefined ? new CancelledError(`run failed: ${error.message}`, error) : error;
}

/**
 * Builds the event for trace entry `idx` of a run (its `seq` is `idx` past the run's `seqBase`).
 *
 * @example
 * ```ts
 * const last = eventAt(run, (run.trace.length >> 1) - 1);
 * ```
 */
export function eventAt(run: Run, idx: number): RunEvent {
  const code = run.trace[idx * 2]!;
  const ts = run.trace[idx * 2 + 1]!;
  const seq = idx + run.seqBase;
  const node = code >> 4;
  const plan = run.plan;
  const runId = run.id;
  const topology = plan.name;
  switch (code & 15) {
    case EV.RUN_STARTED: {
      const e: Writable<RunStartedEvent> = { type: 'run.started', runId, topology, seq, ts, priority: PRIORITIES[run.level]! };
      if (run.tenant !== undefined) e.tenant = run.tenant;
      if (run.parent === undefined) {
        if (run.queued) e.queuedMs = Math.max(0, ts - run.startedAt);
        if (run.decision !== undefined) e.decision = run.decision;
        if (run.traceContext !== undefined) e.trace = run.traceContext;
        if (run.user !== undefined) e.user = run.user;
        if (run.project !== undefined) e.project = run.project;
        if (run.deadlineMs !== undefined) {
          e.deadline = run.deadline;
          e.deadlineMs = run.deadlineMs;
        }
      }
      return stamped(e, run);
    }
    case EV.RUN_COMPLETED: {
      const e: Writable<RunCompletedEvent> = { type: 'run.completed', runId, topology, seq, ts, output: run.output };
      if (run.usage !== undefined) e.usage = { ...run.usage };
      return who(stamped(e, run), run);
    }
    case EV.RUN_FAILED: {
      const e: Writable<RunFailedEvent> = { type: 'run.failed', runId, topology, seq, ts, error: serializeError(run.error) };
      if (run.usage !== undefined) e.usage = { ...run.usage };
      return who(stamped(e, run), run);
    }
    case EV.RUN_CANCELLED: {
      const e: Writable<RunCancelledEvent> = { type: 'run.cancelled', runId, topology, seq, ts, error: serializeError(run.error) };
      if (run.usage !== undefined) e.usage = { ...run.usage };
      return who(stamped(e, run), run);
    }
    case EV.NODE_STARTED: {
      const e: Writable<NodeStartedEvent> = { type: 'node.started', runId, topology, seq, ts, nodeId: plan.ids[node]! };
      return stamped(e, run);
    }
    case EV.NODE_COMPLETED: {
      const e: Writable<NodeCompletedEvent> = { type: 'node.completed', runId, topology, seq, ts, nodeId: plan.ids[node]!, output: run.outputs[node] };
      const u = run.nodeUsage?.[node];
      if (u !== undefined) e.usage = { ...u };
      return stamped(e, run);
    }
    case EV.NODE_FAILED: {
      const e: Writable<NodeFailedEvent> = {
        type: 'node.failed', runId, topology, seq, ts, nodeId: plan.ids[node]!, error: serializeError(run.errors?.[node]), handled: plan.nodes[node]!.onError !== undefined,
      };
      const u = run.nodeUsage?.[node];
      if (u !== undefined) e.usage = { ...u };
      return stamped(e, run);
    }
    case EV.NODE_CANCELLED: {
      const e: Writable<NodeCancelledEvent> = {
        type: 'node.cancelled', runId, topology, seq, ts, nodeId: plan.ids[node]!, error: serializeError(abortReasonOf(run.status, run.error)),
      };
      return stamped(e, run);
    }
    case EV.NODE_SKIPPED: {
      const e: Writable<NodeSkippedEvent> = { type: 'node.skipped', runId, topology, seq, ts, nodeId: plan.ids[node]! };
      return stamped(e, run);
    }
    case EV.NODE_RESUMED: {
      const e: Writable<NodeResumedEvent> = { type: 'node.resumed', runId, topology, seq, ts, nodeId: plan.ids[node]!, output: run.outputs[node] };
      return stamped(e, run);
    }
    case EV.NODE_COMPENSATED: {
      const e: Writable<NodeCompensatedEvent> = { type: 'node.compensated', runId, topology, seq, ts, nodeId: plan.ids[node]! };
      return stamped(e, run);
    }
    // retries, fallbacks and failed compensations carry a note
    default: return stamped(noteEvent(runId, topology, seq, ts, plan.ids[node]!, run.notes!.get(idx)!), run);
  }
}

/** The event of a trace entry that carries a note. */
function noteEvent(runId: string, topology: string, seq: number, ts: number, nodeId: string, n: Note): NodeRetryEvent | NodeFallbackEvent | NodeCompensationFailedEvent {
  switch (n.type) {
    case 'retry': {
      const e: Writable<NodeRetryEvent> = { type: 'node.retry', runId, topology, seq, ts, nodeId, attempt: n.attempt, delayMs: n.delayMs, error: n.error };
      if (n.model !== undefined) e.model = n.model;
      return e;
    }
    case 'fallback': return { type: 'node.fallback', runId, topology, seq, ts, nodeId, from: n.from, to: n.to, reason: n.reason };
    case 'compensation_failed': return { type: 'node.compensation_failed', runId, topology, seq, ts, nodeId, error: n.error };
  }
}

/**
 * The whole history of a run, in `seq` order.
 *
 * @example
 * ```ts
 * historyOf(run).map((e) => e.type); // ['run.started', 'node.started', ...]
 * ```
 */
export function historyOf(run: Run): RunEvent[] {
  const out: RunEvent[] = [];
  const n = run.trace.length >> 1;
  for (let s = 0; s < n; s++) out.push(eventAt(run, s));
  return out;
}
