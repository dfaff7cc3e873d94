/**
 * What every compared system implements. Workloads are written once against
 * this interface; each system wraps the very same node closures, so the only
 * difference measured is the orchestration around them.
 * @module
 */

/** A node's work: every system calls exactly these closures. */
export type NodeFn = (x: number) => Promise<number>;
/** Combines the outputs of parallel branches, given in branch order. */
export type JoinFn = (values: readonly number[]) => Promise<number>;
/** One run of a compiled DAG: input in, declared output out. Rejects when the run did not complete. */
export type RunFn = (input: number) => Promise<number>;

/** Options of a compiled DAG. */
export interface DagOptions {
  /** Runs that may be in flight at once (only llm-orchestrator has admission control; others ignore it). */
  readonly maxInFlight: number;
}

/** A running capped stream (W6). */
export interface Pump {
  /** Stops pulling, abandons what is in flight, resolves once stopped. */
  stop(): Promise<void>;
  /** Runs currently admitted by the system itself, when it can say (llm-orchestrator: `engine.inFlight`). */
  admitted?(): number;
}

/** Definition and compilation of a DAG, timed separately (W7). */
export interface Definer<P, E = unknown> {
  /** Untimed per-iteration setup (llm-orchestrator: a fresh engine). */
  setup(): E;
  /** Defines (and where the system does so, validates) the DAG, without compiling. */
  define(fns: readonly NodeFn[], env: E): P;
  /** Compiles a defined DAG into something runnable. */
  compile(defined: P, env: E): RunFn;
}

export interface SystemAdapter {
  readonly id: string;
  /** A linear chain: node k+1 gets node k's output; node 0 gets the run input. */
  chain(fns: readonly NodeFn[], options: DagOptions): RunFn;
  /** `source` → every branch in parallel (each gets the source's output) → `join` (gets all branch outputs). */
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn, options: DagOptions): RunFn;
  /**
   * Pulls inputs from `source` into one stage running `work` with at most `cap`
   * calls at once, calling `onResult` with every output, until stopped.
   */
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump;
  /** Present for systems that have a definition/compile step (not the hand-written baselines). */
  readonly definer?: Definer<unknown, unknown>;
}
