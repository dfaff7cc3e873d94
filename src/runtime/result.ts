/**
 * Run results (data, never thrown) and the materialization of events from a
 * run's compact trace. Outputs, skipped ids and the history are computed on
 * first read.
 * @module
 */
import { serializeError, type CancelledError, type OrchestratorError, type SerializedError } from '../errors.ts';
import { EV, EVENT_TYPES, type RunEvent } from './events.ts';
import type { UsageTotals } from '../providers/types.ts';
import { DONE, PRIORITIES, R_COMPLETED, SKIPPED, zeroTotals, type Run } from './run.ts';
import type { Compiled } from './compiled.ts';

interface ResultBase<O> {
  readonly runId: string;
  readonly topology: string;
  /** Outputs of the nodes that completed (also on a failed or cancelled run). */
  readonly outputs: Partial<O>;
  /** Ids of nodes that were skipped (route not taken). */
  readonly skipped: readonly string[];
  /** The run's whole event history, in `seq` order. */
  readonly events: readonly RunEvent[];
  /** Tokens and cost of the run (all its model calls, child runs included), and per node. */
  readonly usage: RunUsage;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Usage of a run, with the share of each node that called a model. */
export interface RunUsage extends UsageTotals {
  readonly byNode: Readonly<Record<string, UsageTotals>>;
}

/** Every node completed or was skipped. */
export interface CompletedRun<O, Out> extends ResultBase<O> {
  readonly status: 'completed';
  /** Output of the topology's declared output node (undefined when none is declared or it was skipped). */
  readonly output: Out;
  readonly error?: undefined;
}
/** A node failed (or the input was invalid, or the deadline passed). */
export interface FailedRun<O> extends ResultBase<O> {
  readonly status: 'failed';
  readonly error: OrchestratorError;
  readonly output?: undefined;
}
/** The run's signal was aborted, or the engine shut down. */
export interface CancelledRun<O> extends ResultBase<O> {
  readonly status: 'cancelled';
  readonly error: CancelledError;
  readonly output?: undefined;
}

/**
 * The result of a run, discriminated by `status`. Runs never reject: failures are data.
 *
 * @example
 * ```ts
 * const r = await engine.run(t, input);
 * if (r.status === 'completed') use(r.output); else console.error(r.error.message, r.outputs);
 * ```
 */
export type RunResult<O = Record<string, unknown>, Out = unknown> = CompletedRun<O, Out> | FailedRun<O> | CancelledRun<O>;

const STATUS = ['running', 'completed', 'failed', 'cancelled'] as const;

class Result {
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly runId: string;
  readonly topology: string;
  readonly output: unknown;
  readonly error: OrchestratorError | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly #run: Run;
  readonly #compiled: Compiled;
  #outputs: Record<string, unknown> | undefined;
  #events: RunEvent[] | undefined;

  constructor(c: Compiled, run: Run) {
    this.status = STATUS[run.status] as 'completed';
    this.runId = run.id;
    this.topology = c.name;
    this.output = run.status === R_COMPLETED ? c.outputOf(run) : undefined;
    this.error = run.error;
    this.startedAt = run.startedAt;
    this.endedAt = run.endedAt;
    this.#run = run;
    this.#compiled = c;
  }
  get outputs(): Record<string, unknown> {
    if (this.#outputs === undefined) {
      const o: Record<string, unknown> = {};
      const run = this.#run;
      for (let i = 0; i < run.state.length; i++) if (run.state[i] === DONE) o[this.#compiled.ids[i]!] = run.outputs[i];
      this.#outputs = o;
    }
    return this.#outputs;
  }
  get skipped(): string[] {
    return this.#compiled.ids.filter((_, i) => this.#run.state[i] === SKIPPED);
  }
  get usage(): RunUsage {
    const run = this.#run;
    const byNode: Record<string, UsageTotals> = {};
    run.nodeUsage?.forEach((u, i) => { if (u !== undefined) byNode[this.#compiled.ids[i]!] = { ...u }; });
    return { ...(run.usage ?? zeroTotals()), byNode };
  }
  get events(): RunEvent[] {
    return (this.#events ??= historyOf(this.#compiled, this.#run));
  }
  toJSON(): unknown {
    return {
      status: this.status, runId: this.runId, topology: this.topology, output: this.output,
      error: this.error === undefined ? undefined : serializeError(this.error),
      outputs: this.outputs, skipped: this.skipped, usage: this.usage, startedAt: this.startedAt, endedAt: this.endedAt,
    };
  }
}

/** Wraps a finished run as its result. */
export function resultOf<O, Out>(c: Compiled, run: Run): RunResult<O, Out> {
  return new Result(c, run) as unknown as RunResult<O, Out>;
}

/** Builds the event for trace entry `seq` of a run. */
export function eventAt(c: Compiled, run: Run, seq: number): RunEvent {
  const code = run.trace[seq * 2]!;
  const ts = run.trace[seq * 2 + 1]!;
  const kind = code & 15;
  const node = code >> 4;
  const base = { runId: run.id, topology: c.name, seq, ts, ...(run.parent ? { parentRunId: run.parent.id } : {}) };
  const usage = run.usage === undefined ? {} : { usage: { ...run.usage } };
  const type = EVENT_TYPES[kind]!;
  switch (kind) {
    case EV.RUN_STARTED: return { ...base, type: 'run.started', priority: PRIORITIES[run.level]! };
    case EV.RUN_COMPLETED: return { ...base, type: 'run.completed', output: c.outputOf(run), ...usage };
    case EV.RUN_FAILED: return { ...base, type: 'run.failed', error: serializeError(run.error), ...usage };
    case EV.RUN_CANCELLED: return { ...base, type: 'run.cancelled', error: serializeError(run.error), ...usage };
    case EV.NODE_COMPLETED: return { ...base, type: 'node.completed', nodeId: c.ids[node]!, output: run.outputs[node] };
    case EV.NODE_RESUMED: return { ...base, type: 'node.resumed', nodeId: c.ids[node]!, output: run.outputs[node] };
    case EV.NODE_FAILED: return {
      ...base, type: 'node.failed', nodeId: c.ids[node]!, error: serializeError(run.errors?.[node]), handled: c.nodes[node]!.onError !== undefined,
    };
    case EV.NODE_RETRY: {
      const n = run.notes?.get(seq) as { attempt: number; delayMs: number; error: SerializedError; model?: string };
      return { ...base, type: 'node.retry', nodeId: c.ids[node]!, attempt: n.attempt, delayMs: n.delayMs, error: n.error, ...(n.model === undefined ? {} : { model: n.model }) };
    }
    case EV.NODE_FALLBACK: {
      const n = run.notes?.get(seq) as { from: string; to: string; reason: SerializedError };
      return { ...base, type: 'node.fallback', nodeId: c.ids[node]!, from: n.from, to: n.to, reason: n.reason };
    }
    case EV.NODE_COMPENSATION_FAILED:
      return { ...base, type: 'node.compensation_failed', nodeId: c.ids[node]!, error: run.notes?.get(seq) as SerializedError };
    default: return { ...base, type: type as 'node.started' | 'node.skipped' | 'node.compensated', nodeId: c.ids[node]! };
  }
}

function historyOf(c: Compiled, run: Run): RunEvent[] {
  const out: RunEvent[] = [];
  for (let s = 0; s < run.trace.length / 2; s++) out.push(eventAt(c, run, s));
  return out;
}

