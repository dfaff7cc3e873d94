/**
 * The parts a feedback loop is made of, as interfaces: rolling statistics, the
 * sequential regression test, bandits, sticky assignment, versioned policies and
 * canaries. Each part lives in its own file and implements one interface here;
 * `createLoop` (loop.ts) composes them into the engine's {@link RunLoop}.
 * @module
 */
import type { Observable } from 'rxjs';
import type { Issue } from '../errors.ts';
import type { NodeOverride } from '../definition/types.ts';
import type { LoopEvent, RunLoop, StatRow } from '../runtime/loop.ts';
import type { EvaluationRequestMessage, ExperienceMessage, FeedbackMessage, PolicyUpdateMessage } from '../transports/messages.ts';

// ---- statistics (stats.ts)

/**
 * Count, mean and (sample) variance of a series.
 *
 * @example
 * ```ts
 * const m: Moments = { count: 3, mean: 0.5, variance: 0.01 };
 * ```
 */
export interface Moments {
  readonly count: number;
  readonly mean: number;
  /** Sample variance (n - 1); 0 below two values. */
  readonly variance: number;
}

/**
 * Moments of every value added (Welford) and of the last `windowSize` values (a ring).
 *
 * @example
 * ```ts
 * const s = createRollingStats(100);
 * s.add(0.8);
 * s.all.mean; s.window.count;
 * ```
 */
export interface RollingStats {
  add(value: number): void;
  readonly all: Moments;
  readonly window: Moments;
}

/**
 * What a statistic is kept per: topology x variant x model x metric (`''` for none).
 *
 * @example
 * ```ts
 * const k: StatKey = { topology: 'qa', variant: 'control', model: 'sim:a', metric: 'correct' };
 * ```
 */
export interface StatKey {
  readonly topology: string;
  readonly variant: string;
  readonly model: string;
  readonly metric: string;
}

/**
 * Rolling statistics by key.
 *
 * @example
 * ```ts
 * const book = createStatsBook({ windowSize: 500 });
 * book.add({ topology: 'qa', variant: '', model: 'sim:a', metric: 'correct' }, 1);
 * book.rows();
 * ```
 */
export interface StatsBook {
  add(key: StatKey, value: number): void;
  get(key: StatKey): RollingStats | undefined;
  /** Every key's row, sorted by topology, variant, model, metric. */
  rows(): StatRow[];
}

// ---- regression (regression.ts)

/**
 * When a variant (or canary) counts as worse than control on a metric, and what to do then.
 *
 * @example
 * ```ts
 * const rule: RegressionRule = { metric: 'correct', action: 'pause', minSamples: 50, alpha: 0.01, minEffect: 0.05 };
 * ```
 */
export interface RegressionRule {
  readonly metric: string;
  /** What happens on regression. Default `alert`. */
  readonly action?: 'alert' | 'pause' | 'breaker' | undefined;
  /** No verdict before each side has this many scores. Default 30. */
  readonly minSamples?: number | undefined;
  /** False-alarm rate of the whole (continuously monitored) test. Default 0.01. */
  readonly alpha?: number | undefined;
  /** Smallest relative drop of the mean worth raising (0.05 = 5 %). Default 0.05. */
  readonly minEffect?: number | undefined;
  /** Default `higher` (a score); `lower` for e.g. latency or error rate. */
  readonly better?: 'higher' | 'lower' | undefined;
}

/**
 * A regression test's answer after one more score.
 *
 * @example
 * ```ts
 * const v = test.observe('treatment', 0.4);
 * if (v.regressed) console.log(v.mean, 'vs', v.controlMean);
 * ```
 */
export type RegressionVerdict =
  | { readonly regressed: false }
  | { readonly regressed: true; readonly mean: number; readonly controlMean: number; readonly count: number; readonly controlCount: number };

/**
 * A sequential test of a treatment against control on one metric, safe to check after
 * every score (the false-alarm rate holds under continuous monitoring). Once regressed it
 * stays regressed until `reset()`.
 *
 * @example
 * ```ts
 * const test = createRegressionTest({ metric: 'correct' });
 * for (const s of controlScores) test.observe('control', s);
 * const v = test.observe('treatment', 0);
 * ```
 */
export interface RegressionTest {
  readonly rule: RegressionRule;
  observe(group: 'control' | 'treatment', value: number): RegressionVerdict;
  readonly control: Moments;
  readonly treatment: Moments;
  reset(): void;
}

// ---- bandits (bandit.ts)

/**
 * How a bandit picks among its arms.
 *
 * @example
 * ```ts
 * const o: BanditOptions = { arms: ['sim:a', 'sim:b'], strategy: 'thompson', rewards: 'binary', seed: 7 };
 * ```
 */
export interface BanditOptions {
  readonly arms: readonly string[];
  /** Default `thompson`. */
  readonly strategy?: 'epsilon-greedy' | 'thompson' | undefined;
  /** `binary`: rewards in [0, 1], Beta posteriors; `gaussian`: any real reward, Normal posteriors. Default `binary`. */
  readonly rewards?: 'binary' | 'gaussian' | undefined;
  /** Epsilon-greedy: share of random picks. Default 0.1. */
  readonly epsilon?: number | undefined;
  /** Seed of the bandit's random numbers: the same seed and rewards give the same picks. Default 1. */
  readonly seed?: number | undefined;
}

/**
 * One arm's state.
 *
 * @example
 * ```ts
 * const a: ArmState = { arm: 'sim:a', pulls: 10, rewards: 8, mean: 0.7 };
 * ```
 */
export interface ArmState {
  readonly arm: string;
  /** Times chosen. */
  readonly pulls: number;
  /** Rewards received. */
  readonly rewards: number;
  /** Mean reward received (0 before any). */
  readonly mean: number;
}

/**
 * A multi-armed bandit.
 *
 * @example
 * ```ts
 * const b = createBandit({ arms: ['a', 'b'], seed: 1 });
 * const arm = b.choose();
 * b.update(arm, 1);
 * ```
 */
export interface Bandit {
  choose(): string;
  update(arm: string, reward: number): void;
  state(): readonly ArmState[];
}

// ---- experiments (experiments.ts)

/**
 * A stable point in [0, 1) for a key, salted (the experiment or policy name), so the same
 * user lands in the same variant on every worker and restart.
 *
 * @example
 * ```ts
 * const u: BucketFn = bucketOf;
 * u('user-7', 'qa'); // 0.4127…, always
 * ```
 */
export type BucketFn = (key: string, salt: string) => number;

// ---- policies (policy.ts)

/**
 * A bandit over the arms of one llm node (a policy's `bandits` entry): each arm is a
 * model name or a full node override.
 *
 * @example
 * ```ts
 * const b: BanditPolicy = { arms: { cheap: { model: 'sim:small' }, best: { model: 'sim:large' } }, metric: 'correct', costWeight: 50 };
 * ```
 */
export interface BanditPolicy {
  readonly arms: Readonly<Record<string, NodeOverride>>;
  /** The feedback metric that is the quality part of the reward. */
  readonly metric: string;
  /** Reward = quality - costWeight x run cost in USD. Default 0. */
  readonly costWeight?: number | undefined;
  readonly strategy?: 'epsilon-greedy' | 'thompson' | undefined;
  readonly rewards?: 'binary' | 'gaussian' | undefined;
  readonly epsilon?: number | undefined;
}

/**
 * How a new policy version rolls out: a share of traffic that grows while its metric holds.
 *
 * @example
 * ```ts
 * const c: CanarySpec = { percent: 5, step: 20, everyRuns: 100, metric: 'correct' };
 * ```
 */
export interface CanarySpec {
  /** Starting share of runs (0..100). */
  readonly percent: number;
  /** Percentage points added at each step. */
  readonly step: number;
  /** Evaluated canary runs between steps (each step needs no regression meanwhile). */
  readonly everyRuns: number;
  /** The metric compared with the baseline version. */
  readonly metric: string;
  /** Regression test settings (metric taken from above). */
  readonly test?: Omit<RegressionRule, 'metric' | 'action'> | undefined;
}

/**
 * What one policy version of a topology sets. Every field is optional; an absent field
 * means the topology's own definition.
 *
 * @example
 * ```ts
 * const doc: PolicyDocument = { nodes: { answer: { model: 'sim:large', temperature: 0.2 } }, evaluation: { sampleRate: 0.1 } };
 * ```
 */
export interface PolicyDocument {
  /** Per-node settings: model swap, parameters, prompt or system text. */
  readonly nodes?: Readonly<Record<string, NodeOverride>> | undefined;
  /** Experiment variant weights replacing the topology's. */
  readonly variants?: Readonly<Record<string, number>> | undefined;
  /** Bandits by llm node id. */
  readonly bandits?: Readonly<Record<string, BanditPolicy>> | undefined;
  /** Roll this version out as a canary against the previous one. */
  readonly canary?: CanarySpec | undefined;
  /** Regression rules for the experiment's variants. */
  readonly regression?: readonly RegressionRule[] | undefined;
  /** Share of runs sent for evaluation, and llm nodes evaluated on their own. */
  readonly evaluation?: { readonly sampleRate: number; readonly nodes?: readonly string[] | undefined } | undefined;
  /** A label for the prompts this version uses (carried in evaluations). */
  readonly promptVersion?: string | undefined;
}

/**
 * One version of a topology's policy.
 *
 * @example
 * ```ts
 * const p: PolicyVersion = { target: 'qa', version: 3, policyId: 'opt-17', document: {}, reason: 'cheaper', ts: Date.now() };
 * ```
 */
export interface PolicyVersion {
  /** The topology it applies to. */
  readonly target: string;
  /** Increases by one per change of a target (rollbacks included). */
  readonly version: number;
  readonly policyId: string;
  readonly document: PolicyDocument;
  readonly reason: string | null;
  readonly ts: number;
}

// ---- the loop (loop.ts)

/**
 * What became of one feedback message.
 *
 * @example
 * ```ts
 * const o: FeedbackOutcome = loop.feedback(msg); // 'joined'
 * ```
 */
export type FeedbackOutcome = 'joined' | 'late' | 'duplicate' | 'unknown_run' | 'invalid';

/**
 * Counts of feedback by outcome, since the loop started.
 *
 * @example
 * ```ts
 * const c: FeedbackCounters = loop.counters(); // { received: 10, joined: 8, late: 0, duplicate: 1, unknown_run: 1, invalid: 0 }
 * ```
 */
export type FeedbackCounters = { readonly received: number } & { readonly [K in FeedbackOutcome]: number };

/**
 * What became of one policy update: applied as the target's new version, or refused with
 * the reasons (the previous version stays current).
 *
 * @example
 * ```ts
 * const r = loop.applyPolicy(update);
 * if (!r.ok) deadLetter(update, r.issues.map((i) => i.message).join('; '));
 * ```
 */
export type PolicyOutcome =
  | { readonly ok: true; readonly policy: PolicyVersion; readonly duplicate: boolean }
  | { readonly ok: false; readonly issues: readonly Issue[] };

/**
 * A feedback loop: the engine's {@link RunLoop} plus the inputs and outputs a worker or
 * an in-process evaluator connects to topics.
 *
 * @example
 * ```ts
 * const loop = createLoop({ topologies: [qa], seed: 7 });
 * const engine = createEngine({ loop });
 * loop.evaluations$.subscribe((e) => loop.feedback(judge(e)));
 * ```
 */
export interface FeedbackLoop extends RunLoop {
  /** Joins a feedback message to its run; never throws (bad input is counted and reported as an event). */
  feedback(message: FeedbackMessage): FeedbackOutcome;
  /** Validates and applies a policy update (from the policies topic, `llmo policy apply`, or code). */
  applyPolicy(update: PolicyUpdateMessage): PolicyOutcome;
  /** Rolls a topology's policy back to an earlier version (default: the one before the current), as a new version. */
  rollback(target: string, toVersion?: number): PolicyOutcome;
  /** The current policy version of each target (or of one). */
  policies(target?: string): readonly PolicyVersion[];
  counters(): FeedbackCounters;
  /** Bandit arms' state by topology and decision. */
  bandits(): readonly { readonly topology: string; readonly decision: string; readonly arms: readonly ArmState[] }[];
  /** Evaluation requests of sampled runs (and marked nodes), as runs end. */
  readonly evaluations$: Observable<EvaluationRequestMessage>;
  /** State-action-reward records, as feedback for bandit runs is joined. */
  readonly experience$: Observable<ExperienceMessage>;
  /** The loop's events (also on the bus of the engine it is attached to). */
  readonly events$: Observable<LoopEvent>;
}
