/**
 * `llm-orchestrator/loops`: feedback loops around an engine. `createLoop` decides each
 * run's experiment variant, policy version, node settings and bandit arms
 * (`createEngine({ loop })`), sends evaluation requests of sampled runs, joins feedback to
 * runs (rolling statistics, regression detection, canaries, bandit rewards) and applies
 * policy updates live; `attachEvaluator` and `attachJudge` answer evaluation requests in
 * process. The parts (statistics, regression tests, bandits, sticky assignment, policies,
 * canaries) are exported for use on their own.
 *
 * @example
 * ```ts
 * import { createEngine } from 'llm-orchestrator';
 * import { attachEvaluator, createLoop } from 'llm-orchestrator/loops';
 * const loop = createLoop({ seed: 7, regression: [{ metric: 'correct', action: 'pause' }] });
 * const engine = createEngine({ loop });
 * attachEvaluator(loop, (req) => ({ metric: 'correct', score: req.output.includes('42') ? 1 : 0 }));
 * ```
 * @module
 */
export { createLoop, LoopOptionsSchema, type Loop, type LoopOptions } from './loop.ts';
export {
  attachEvaluator, attachJudge,
  type EvaluateFn, type Judgement, type EvaluatorHandle, type EvaluatorOptions, type EvaluatorStats, type JudgeOptions,
} from './evaluator.ts';
export { RunInfoSchema, runInfoOf, type RunInfo } from './join.ts';
export { FeedbackInSchema, checkFeedback, type FeedbackIn } from './feedback.ts';
export { evaluationRequests } from './requests.ts';
export { createRollingStats, createStatsBook, StatsBookOptionsSchema, type StatsBookOptions } from './stats.ts';
export { bucketOf, compileExperiment, assignVariant, keyOf, pickWeighted, type CompiledExperiment, type AssignOptions, type AssignmentKeys } from './experiments.ts';
export { createRandom, mulberry32, type Random } from '../primitives/random.ts';
export { createRegressionTest, RegressionRuleSchema } from './regression.ts';
export { createBandit, BanditOptionsSchema } from './bandit.ts';
export {
  PolicyDocumentSchema, CanarySpecSchema, BanditPolicySchema, EvaluationPolicySchema, POLICY_FIELDS,
  parsePolicyDocument, policyFromMessage, policyToMessage, checkPolicyAgainst, type Parsed,
} from './policy.ts';
export { createPolicyRegistry, type PolicyRegistry, type PolicyRegistryOptions } from './policy-registry.ts';
export { createCanary, canaryRule, type Canary, type CanaryStep, type CanaryOptions, type CanaryCounts } from './canary.ts';
export type {
  Moments, RollingStats, StatKey, StatsBook, RegressionRule, RegressionVerdict, RegressionTest, BanditOptions, ArmState, Bandit,
  BucketFn, BanditPolicy, CanarySpec, PolicyDocument, PolicyVersion, FeedbackOutcome, FeedbackCounters, PolicyOutcome, FeedbackLoop,
} from './types.ts';
export type {
  RunLoop, RunDecision, RunSummary, DecisionRequest, StatRow, LoopHost, LoopEvent,
  FeedbackRejectedEvent, QualityRegressionEvent, PolicyChangedEvent, CanaryEvent, VariantStateEvent,
} from '../runtime/loop.ts';
export { isLoopEvent, RunDecisionSchema } from '../runtime/loop.ts';
export type { EvaluationRequestMessage, ExperienceMessage, FeedbackMessage, PolicyUpdateMessage } from '../transports/messages.ts';
