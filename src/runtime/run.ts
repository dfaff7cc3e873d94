/**
 * The per-run envelope that flows through a compiled topology's stages. Small by
 * design: a few arrays sized by the node count, a numeric trace, and an
 * AbortController made only when someone asks for the signal.
 * @module
 */
import type { ReplaySubject } from 'rxjs';
import type { NodeError, OrchestratorError, SerializedError } from '../errors.ts';
import type { NodeNote, NodeOverride, StreamChunk } from '../definition/types.ts';
import type { Level, Limiter } from '../primitives/limiter.ts';
import type { Journal } from './journal.ts';
import type { RunDecision } from './loop.ts';
import type { TraceContext } from './trace-context.ts';
import type { Plan, Resume } from './plan.ts';
import type { Totals } from './totals.ts';
import { DONE, R_RUNNING } from './states.ts';

/**
 * The live token stream of a producing node within one run.
 *
 * @example
 * ```ts
 * run.channels?.[i]?.subject.next({ kind: 'token', index: 0, text: 'Hi' });
 * ```
 */
export interface Channel {
  readonly subject: ReplaySubject<StreamChunk>;
  /** Aborts the producer (for `ctx.stop`). */
  readonly stop: (reason: string) => void;
}

/**
 * The payload of a trace entry that carries more than its node: a retry, a
 * fallback, or a failed compensation.
 *
 * @example
 * ```ts
 * (run.notes ??= new Map()).set(run.trace.length >> 1, { type: 'compensation_failed', error });
 * ```
 */
export type Note = NodeNote | { readonly type: 'compensation_failed'; readonly error: SerializedError };

/**
 * How the wait a resumed run was parked on ended: the signal's payload, or its timeout.
 *
 * @example
 * ```ts
 * run.wake = { nodeId: 'approval', name: 'approve', payload: { ok: true } };
 * ```
 */
export type Wake =
  | { readonly nodeId: string; readonly name: string; readonly payload: unknown; readonly timedOut?: undefined }
  | { readonly nodeId: string; readonly name: string; readonly timedOut: true; readonly timeoutAt: number };

/**
 * One run of a topology.
 *
 * @example
 * ```ts
 * const run = new Run('r1', plan, input, LEVELS.normal, Infinity, undefined, (r) => console.log(r.status));
 * ```
 */
export class Run {
  readonly id: string;
  /** The run's topology, as planned for its engine. */
  readonly plan: Plan;
  input: unknown;
  readonly level: Level;
  readonly parent: Run | undefined;
  /** For a child run: the index of the parent's node that started it. */
  parentNode = -1;
  /** For a single-node run (a remote worker executing one node): that node's index. */
  single = -1;
  readonly outputs: unknown[];
  readonly state: number[];
  readonly mark: number[];
  readonly pending: number[];
  /** Errors of failed nodes (by node index). */
  errors: (NodeError | undefined)[] | undefined = undefined;
  /** Nodes not yet settled or skipped. */
  remaining: number;
  status = R_RUNNING;
  error: OrchestratorError | undefined = undefined;
  ctl: AbortController | undefined = undefined;
  /** Absolute deadline in epoch ms; Infinity for none. */
  deadline: number;
  /** The budget the deadline was set from (RunOptions `deadlineMs`), for its `run.started` and its TIMEOUT error. */
  deadlineMs: number | undefined = undefined;
  /** Two numbers per event: `code | nodeIndex << 4`, timestamp. */
  readonly trace: number[] = [];
  startedAt: number;
  endedAt = 0;
  /** The admission limiter whose slot the run holds, once admitted (released when it is delivered). */
  admission: Limiter<Run> | undefined = undefined;
  /** Node outputs carried over from an earlier attempt, applied when the run is admitted. */
  resume: Resume | undefined = undefined;
  /** Token streams of producing nodes with streaming consumers (by node index). */
  channels: (Channel | undefined)[] | undefined = undefined;
  /** Usage of the whole run (including child runs), and per node. */
  usage: Totals | undefined = undefined;
  nodeUsage: (Totals | undefined)[] | undefined = undefined;
  tenant: string | undefined = undefined;
  /** Payloads of trace entries that carry data beyond the node (retries, fallbacks, compensation errors), by seq. */
  notes: Map<number, Note> | undefined = undefined;
  /** Retries left for the whole run (set on first use). */
  budget: { remaining: number } | undefined = undefined;
  /** Durable runs: the journal that records every event in the run store. Undefined for plain runs. */
  journal: Journal<Run> | undefined = undefined;
  /** `seq` of the run's first trace entry: a recovered run continues its stored log (0 otherwise). */
  seqBase = 0;
  /** What the engine's loop decided for the run (variant, policy version); a child run shares its parent's. */
  decision: RunDecision | undefined = undefined;
  /** Who the run is for (RunOptions `user`). */
  user: string | undefined = undefined;
  /** What the run's cost is attributed to (RunOptions `project`). */
  project: string | undefined = undefined;
  /** The engine's guards admitted the run and want to hear when it ends (to free what it holds). */
  guardEnded: ((status: 'completed' | 'failed' | 'cancelled' | 'waiting') => void) | undefined = undefined;
  /** The run waited for admission (its `run.started` says how long: `queuedMs`). */
  queued = false;
  /** The W3C trace context the run continues (RunOptions `traceContext`, or its recorded `run.started`). */
  traceContext: TraceContext | undefined = undefined;
  /** Per-node settings of this run replacing the definition's (RunOptions `overrides`, merged over the decision's). */
  overrides: Readonly<Record<string, NodeOverride>> | undefined = undefined;
  /** A parked run (status R_WAITING): the wait it is parked on. */
  parked: { readonly nodeId: string; readonly name: string; readonly timeoutAt?: number } | undefined = undefined;
  /** A run resumed from a wait: how that wait ended (its signal's payload, or its timeout). */
  wake: Wake | undefined = undefined;
  /** Undoes listeners and timers the run set up; called once when it ends. */
  cleanup: (() => void) | undefined = undefined;
  readonly onEnd: (run: Run) => void;

  constructor(id: string, plan: Plan, input: unknown, level: Level, deadline: number, parent: Run | undefined, onEnd: (run: Run) => void) {
    this.id = id;
    this.plan = plan;
    this.input = input;
    this.level = level;
    this.deadline = deadline;
    this.parent = parent;
    this.onEnd = onEnd;
    this.outputs = plan.empty.slice();
    this.state = plan.zeros.slice();
    this.mark = plan.zeros.slice();
    this.pending = plan.pendingTemplate.slice();
    this.remaining = plan.ids.length;
    this.startedAt = Date.now();
  }

  /** The run's AbortSignal, created on first use. */
  get signal(): AbortSignal {
    return (this.ctl ??= new AbortController()).signal;
  }

  /** The run's output: its declared output node's output (undefined when none is declared or it did not complete). */
  get output(): unknown {
    const o = this.plan.outIdx;
    return o < 0 || this.state[o] !== DONE ? undefined : this.outputs[o];
  }
}

/**
 * The top-level run of a (child) run.
 *
 * @example
 * ```ts
 * rootOf(child).id; // the id of the run that started the sub-topology
 * ```
 */
export function rootOf(run: Run): Run {
  let r = run;
  while (r.parent !== undefined) r = r.parent;
  return r;
}
