/**
 * Versioned policies as interfaces: the bandit over an llm node's arms, the canary
 * rollout of a new version, the document a policy version sets, and the version itself.
 * policy.ts validates them and policy-registry.ts keeps them.
 * @module
 */
import type { NodeOverride } from '../definition/types.ts';
import type { RegressionRule } from './regression-types.ts';

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
