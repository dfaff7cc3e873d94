/**
 * The contract between the engine and a feedback loop (`createLoop` in `src/loops/`):
 * the loop decides each run's variant, policy version and per-node settings when the
 * run starts, and hears how it ended. The engine knows nothing of experiments, bandits
 * or policies; it only records the decision (on every event, and in the run store, so a
 * recovered run keeps it) and applies its overrides. Like the run store, the contract
 * lives beside the engine and its implementations one layer up.
 * @module
 */
import * as z from 'zod';
import { NodeOverrideSchema } from '../compiler/validate.ts';
import type { SerializedError } from '../errors.ts';
import type { AnyTopology, NodeOverride } from '../definition/types.ts';
import type { UsageTotals } from '../providers/types.ts';

/**
 * What a loop decided for one run, fixed for the whole run (also across a crash and recovery).
 *
 * @example
 * ```ts
 * const d: RunDecision = { variant: 'brief', policyVersion: 7, overrides: { answer: { model: 'sim:fast' } }, arms: { answer: 'sim:fast' }, evaluate: true };
 * ```
 */
export interface RunDecision {
  /** Experiment variant. */
  readonly variant?: string | undefined;
  /** Version of the topology's policy the run uses from start to end. */
  readonly policyVersion?: number | undefined;
  /** Per-node settings (variant, policy and bandit choices merged); a run's own `overrides` win over them. */
  readonly overrides?: Readonly<Record<string, NodeOverride>> | undefined;
  /** Bandit choices by decision name (usually a node id): the arm taken. */
  readonly arms?: Readonly<Record<string, string>> | undefined;
  /** Sampled for evaluation: an evaluation request goes out when the run ends. */
  readonly evaluate?: boolean | undefined;
}


/**
 * Schema of {@link RunDecision} (a loop's answer is checked with it, and a stored one read back with it).
 *
 * @example
 * ```ts
 * RunDecisionSchema.parse({ variant: 'control', policyVersion: 3 });
 * ```
 */
export const RunDecisionSchema = z.strictObject({
  variant: z.string().min(1).optional(),
  policyVersion: z.number().int().nonnegative().optional(),
  overrides: z.record(z.string(), NodeOverrideSchema).optional(),
  arms: z.record(z.string(), z.string().min(1)).optional(),
  evaluate: z.boolean().optional(),
});

/**
 * What the engine tells a loop about a run it is starting.
 *
 * @example
 * ```ts
 * const d = loop.decide({ topology: rag, version: 'a1b2…', runId: 'r1', tenant: 'acme', user: 'u7', input });
 * ```
 */
export interface DecisionRequest {
  readonly topology: AnyTopology;
  /** `topologyVersion(topology)`. */
  readonly version: string;
  readonly runId: string;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  readonly input: unknown;
}

/**
 * How a top-level run ended, as a loop needs it to build an evaluation request and join feedback.
 *
 * @example
 * ```ts
 * const s: RunSummary = { runId: 'r1', topology: 'rag', version: 'a1b2', status: 'completed', input, output: 'Hi',
 *   startedAt: 0, endedAt: 12, decision: { variant: 'control' }, models: { answer: 'sim:default' }, tenant: undefined, user: undefined };
 * ```
 */
export interface RunSummary {
  readonly runId: string;
  readonly topology: string;
  readonly version: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly input: unknown;
  readonly output: unknown;
  readonly error?: SerializedError | undefined;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly usage?: UsageTotals | undefined;
  /** `usage.costUsd` without a copy of the usage (absent on summaries not made by the engine: read `usage`). */
  readonly costUsd?: number;
  readonly decision: RunDecision | undefined;
  /** Llm nodes that ran, by node id: the model that answered (after fallbacks). */
  readonly models: Readonly<Record<string, string>>;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  /**
   * Outputs of the nodes that completed, by node id (computed on first read; an evaluation of
   * one marked node needs its output). Absent on summaries not made by the engine.
   */
  readonly outputs?: Readonly<Record<string, unknown>>;
}

/**
 * One row of a loop's rolling statistics: a metric of a topology's variant on one model.
 *
 * @example
 * ```ts
 * const row: StatRow = { topology: 'rag', variant: 'control', model: 'sim:default', metric: 'helpfulness',
 *   count: 120, mean: 0.81, variance: 0.02, window: { count: 100, mean: 0.8, variance: 0.02 } };
 * ```
 */
export interface StatRow {
  readonly topology: string;
  /** `''` when the run had no variant. */
  readonly variant: string;
  /** `''` when the feedback names no node and the run used several models. */
  readonly model: string;
  readonly metric: string;
  /** Since the start (or the last reset). */
  readonly count: number;
  readonly mean: number;
  readonly variance: number;
  /** The most recent scores only (the window size is the loop's). */
  readonly window: { readonly count: number; readonly mean: number; readonly variance: number };
}

interface LoopEventBase {
  /** Epoch ms. */
  readonly ts: number;
  readonly topology: string;
}

/** Feedback that was not counted, and why (it never fails a consumer). */
export interface FeedbackRejectedEvent extends LoopEventBase {
  readonly type: 'feedback.rejected';
  readonly feedbackId: string;
  readonly runId: string | null;
  readonly reason: 'duplicate' | 'unknown_run' | 'invalid';
  readonly detail?: string;
}
/** A variant (or a model) scores worse than control by a margin the regression test is sure of. */
export interface QualityRegressionEvent extends LoopEventBase {
  readonly type: 'quality.regression';
  readonly variant: string;
  readonly control: string;
  readonly metric: string;
  readonly model?: string;
  /** What the policy did: only alerted, paused the variant, opened the model's quality breaker, or rolled a canary back. */
  readonly action: 'alert' | 'pause' | 'breaker' | 'rollback';
  readonly mean: number;
  readonly controlMean: number;
  readonly count: number;
  readonly controlCount: number;
}
/** A policy version became current (or was refused: `rejected` with the issues). */
export interface PolicyChangedEvent extends LoopEventBase {
  readonly type: 'policy.applied' | 'policy.rejected' | 'policy.rolled_back';
  readonly version: number;
  readonly previous?: number;
  readonly reason?: string;
}
/** A canary step: started at a share, grown, promoted to all traffic, or rolled back. */
export interface CanaryEvent extends LoopEventBase {
  readonly type: 'canary.step';
  readonly version: number;
  readonly baseline: number;
  readonly phase: 'started' | 'grown' | 'promoted' | 'rolled_back';
  /** Share of traffic (0..100) the canary takes from now on. */
  readonly percent: number;
  readonly reason?: string;
}
/** Feedback was joined: the statistics row it changed, as it stands now (the same row `engine.stats()` lists). */
export interface StatsUpdatedEvent extends LoopEventBase, StatRow {
  readonly type: 'stats.updated';
}
/** A variant was paused or resumed, or a model's quality breaker opened or closed. */
export interface VariantStateEvent extends LoopEventBase {
  readonly type: 'variant.state';
  readonly variant?: string;
  readonly model?: string;
  readonly state: 'paused' | 'active' | 'breaker_open' | 'breaker_closed';
  readonly reason: string;
}

/**
 * What a loop reports on the engine's bus (`engine.events$`).
 *
 * @example
 * ```ts
 * engine.events$.subscribe((e) => { if (e.type === 'quality.regression') alert(e); });
 * ```
 */
export type LoopEvent = FeedbackRejectedEvent | QualityRegressionEvent | PolicyChangedEvent | CanaryEvent | VariantStateEvent | StatsUpdatedEvent;

/**
 * What the engine gives a loop when it attaches it.
 *
 * @example
 * ```ts
 * attach(host) { this.#emit = host.emit; }
 * ```
 */
export interface LoopHost {
  /** Publishes on the engine's bus (dropped when nobody listens). */
  emit(event: LoopEvent): void;
}

/**
 * A feedback loop an engine consults (`createEngine({ loop })`). `decide` runs on the hot
 * path of every run start: keep it synchronous and cheap (a few hash and table lookups).
 *
 * @example
 * ```ts
 * const loop: RunLoop = { decide: () => ({ variant: 'control' }), ended: () => {}, stats: () => [] };
 * const engine = createEngine({ loop });
 * ```
 */
export interface RunLoop {
  /** The run's decision, or undefined for none. Called once per top-level run (not on recovery: the stored decision is kept). */
  decide(request: DecisionRequest): RunDecision | undefined;
  /** A top-level run ended (completed, failed or cancelled; not parked). */
  ended(summary: RunSummary): void;
  /** Rolling statistics by topology, variant, model and metric (`engine.stats()`). */
  stats(): readonly StatRow[];
  /** Called once by the engine that uses the loop. */
  attach?(host: LoopHost): void;
}

const LOOP_EVENT_TYPES: ReadonlySet<string> = new Set<LoopEvent['type']>([
  'feedback.rejected', 'quality.regression', 'policy.applied', 'policy.rejected', 'policy.rolled_back', 'canary.step', 'variant.state', 'stats.updated',
]);

/**
 * Whether a bus event is a loop's (not a run's, a token's or a breaker's).
 *
 * @example
 * ```ts
 * engine.events$.pipe(filter(isLoopEvent)).subscribe((e) => console.log(e.type, e.topology));
 * ```
 */
export function isLoopEvent(e: { readonly type: string }): e is LoopEvent {
  return LOOP_EVENT_TYPES.has(e.type);
}
