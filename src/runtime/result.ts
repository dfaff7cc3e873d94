/**
 * Run results: data, never thrown. Outputs, skipped ids, usage and the history
 * are computed from the finished run on first read.
 * @module
 */
import { serializeError, type CancelledError, type OrchestratorError, type WaitError } from '../errors.ts';
import type { RunEvent } from './events.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { Run } from './run.ts';
import type { RunDecision } from './loop.ts';
import { DONE, R_CANCELLED, R_COMPLETED, R_FAILED, R_WAITING, SKIPPED } from './states.ts';
import { zeroTotals } from './totals.ts';
import { historyOf } from './history.ts';

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
  /** Epoch ms the run ended; for a `waiting` result, when it parked and left the process. */
  readonly endedAt: number;
  /** What the engine's loop decided for the run (variant, policy version, model choices); undefined without one. */
  readonly decision: RunDecision | undefined;
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
 * A durable run parked on a `wait` node: it is stored and left the process; `engine.signal`
 * resumes it (in any process). Its outputs are those of the nodes completed so far.
 */
export interface WaitingRun<O> extends ResultBase<O> {
  readonly status: 'waiting';
  /** The wait it is parked on, and when it times out (epoch ms; absent: never). */
  readonly wait: { readonly nodeId: string; readonly name: string; readonly timeoutAt?: number };
  readonly output?: undefined;
  /** Why it is not done: a WaitError `RUN_PARKED` naming the wait (so `r.error` is set whenever `status !== 'completed'`). */
  readonly error: WaitError;
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
export type RunResult<O = Record<string, unknown>, Out = unknown> = CompletedRun<O, Out> | FailedRun<O> | CancelledRun<O> | WaitingRun<O>;

/** Result status by run status (a result is only made of a finished run). */
const STATUS: Readonly<Record<number, 'completed' | 'failed' | 'cancelled' | 'waiting'>> = {
  [R_COMPLETED]: 'completed', [R_FAILED]: 'failed', [R_CANCELLED]: 'cancelled', [R_WAITING]: 'waiting',
};

class Result {
  readonly status: 'completed' | 'failed' | 'cancelled' | 'waiting';
  readonly runId: string;
  readonly wait: Run['parked'];
  readonly topology: string;
  readonly output: unknown;
  readonly error: OrchestratorError | undefined;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly #run: Run;
  get decision(): RunDecision | undefined {
    return this.#run.decision;
  }
  #outputs: Record<string, unknown> | undefined;
  #events: RunEvent[] | undefined;

  constructor(run: Run) {
    this.status = STATUS[run.status]!;
    this.runId = run.id;
    this.topology = run.plan.name;
    this.output = run.status === R_COMPLETED ? run.output : undefined;
    this.error = run.error;
    this.wait = run.parked;
    this.startedAt = run.startedAt;
    this.endedAt = run.endedAt;
    this.#run = run;
  }
  get outputs(): Record<string, unknown> {
    if (this.#outputs === undefined) {
      const o: Record<string, unknown> = {};
      const run = this.#run;
      const ids = run.plan.ids;
      for (let i = 0; i < run.state.length; i++) if (run.state[i] === DONE) o[ids[i]!] = run.outputs[i];
      this.#outputs = o;
    }
    return this.#outputs;
  }
  get skipped(): string[] {
    const run = this.#run;
    return run.plan.ids.filter((_, i) => run.state[i] === SKIPPED);
  }
  get usage(): RunUsage {
    const run = this.#run;
    const ids = run.plan.ids;
    const byNode: Record<string, UsageTotals> = {};
    run.nodeUsage?.forEach((u, i) => { if (u !== undefined) byNode[ids[i]!] = { ...u }; });
    return { ...(run.usage ?? zeroTotals()), byNode };
  }
  get events(): RunEvent[] {
    return (this.#events ??= historyOf(this.#run));
  }
  toJSON(): unknown {
    return {
      status: this.status, runId: this.runId, topology: this.topology, output: this.output,
      error: this.error === undefined ? undefined : serializeError(this.error), wait: this.wait,
      outputs: this.outputs, skipped: this.skipped, usage: this.usage, startedAt: this.startedAt, endedAt: this.endedAt, decision: this.decision,
    };
  }
}

/**
 * Wraps a finished run as its result.
 *
 * @example
 * ```ts
 * const result: RunResult = resultOf(run);
 * ```
 */
export function resultOf<O, Out>(run: Run): RunResult<O, Out> {
  return new Result(run) as unknown as RunResult<O, Out>;
}
