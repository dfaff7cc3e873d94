/**
 * The parts a feedback loop is made of, as interfaces: rolling statistics, the
 * sequential regression test, bandits, sticky assignment, versioned policies and
 * canaries. Each part lives in its own file and implements one interface; the interfaces
 * are grouped by part in stats-types.ts, regression-types.ts, bandit-types.ts,
 * experiment-types.ts and policy-types.ts, and re-exported here. This file holds the loop
 * itself: `createLoop` (loop.ts) composes the parts into the engine's {@link RunLoop}.
 * @module
 */
import type { Observable } from 'rxjs';
import type { Issue } from '../errors.ts';
import type { LoopEvent, RunLoop } from '../runtime/loop.ts';
import type { EvaluationRequestMessage, ExperienceMessage, FeedbackMessage, PolicyUpdateMessage } from '../transports/messages.ts';
import type { ArmState } from './bandit-types.ts';
import type { PolicyVersion } from './policy-types.ts';

export type { Moments, RollingStats, StatKey, StatsBook } from './stats-types.ts';
export type { RegressionRule, RegressionVerdict, RegressionTest } from './regression-types.ts';
export type { BanditOptions, ArmState, Bandit } from './bandit-types.ts';
export type { BucketFn } from './experiment-types.ts';
export type { BanditPolicy, CanarySpec, PolicyDocument, PolicyVersion } from './policy-types.ts';

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
