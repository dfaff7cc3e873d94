/**
 * Shared types of the benchmark harness: systems, workloads, metrics, targets.
 * A workload is one file under `bench/workloads/` registered in its index; the
 * harness knows nothing else about it.
 * @module
 */
import type { SystemAdapter } from '../systems/types.ts';

/**
 * Every system the harness can compare. `llm-orchestrator` is "ours". The first
 * five run DAGs; `kafkajs` is the raw Kafka client, a baseline of the Kafka
 * workloads only; `dbos` (DBOS Transact) takes part in the durable workloads only.
 */
export const SYSTEM_IDS = ['llm-orchestrator', 'rxjs', 'promise', 'langgraph', 'mastra', 'kafkajs', 'platformatic', 'dbos'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];
export const OURS: SystemId = 'llm-orchestrator';

/** `quick` is the smoke run (small sizes, one repetition); `full` the real one. */
export type Mode = 'quick' | 'full';

/** One metric a workload reports. */
export interface MetricSpec {
  readonly name: string;
  readonly unit: string;
  /** Which direction is good; used to phrase ratios ("× faster", "× less"). */
  readonly better: 'lower' | 'higher' | 'none';
  /** Compute ours ÷ baseline for this metric (default true). */
  readonly ratio?: boolean;
}

/** A target printed beside llm-orchestrator's results (PASS/MISS). Judged on the median. */
export type Target =
  | { readonly kind: 'value'; readonly metric: string; readonly op: '<=' | '<' | '>=' | '=='; readonly value: number; readonly label: string }
  | { readonly kind: 'ratio'; readonly metric: string; readonly baseline: SystemId; readonly op: '<=' | '<' | '>='; readonly value: number; readonly label: string };

/** What a workload's `run` receives in the child process. */
export interface RunContext {
  readonly mode: Mode;
  readonly system: SystemAdapter;
  /** Repetition index (0-based), for logging only. */
  readonly rep: number;
  /** Progress/diagnostic line to stderr (never parsed). */
  log(message: string): void;
}

/** Metric name to value, as measured in one child process. */
export type Measurement = Record<string, number>;

/** One benchmark workload. Runs inside a fresh child process per (system, repetition). */
export interface Workload {
  /** Id used in results: `w1` … `w12`, `w3m`. */
  readonly id: string;
  readonly title: string;
  /** One or two sentences for the report. */
  readonly description: string;
  readonly metrics: readonly MetricSpec[];
  readonly targets: readonly Target[];
  /** Systems that take part by default, in their default order, per mode. */
  systems(mode: Mode): readonly SystemId[];
  /** Systems that can take part when asked for by name (`--systems`); default: `systems(mode)`. */
  readonly capable?: readonly SystemId[];
  /** Repetitions for one system when fewer than the run's (for very slow peers); default: all. */
  repsFor?(system: SystemId, mode: Mode, reps: number): number;
  /**
   * Why the workload cannot run here (e.g. no Kafka broker configured), or undefined when it can.
   * A skipped workload spawns no child; the report says it was skipped and why.
   */
  skip?(mode: Mode): string | undefined;
  /** Kill the child after this long (it then counts as a failed measurement). */
  timeoutMs(mode: Mode): number;
  /** Metrics recorded for a repetition whose child died or timed out (e.g. `{ survived: 0 }`); without it, such a repetition is an error. */
  readonly failure?: Measurement;
  /** Extra node flags for the child (e.g. a bigger heap). */
  readonly nodeFlags?: readonly string[];
  /**
   * Measures once. Must warm up first, check every result for the right answer
   * (throw on a wrong one), and return every metric in `metrics` (or a subset
   * when a metric does not apply to the system).
   */
  run(ctx: RunContext): Promise<Measurement>;
}
