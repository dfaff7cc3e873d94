/**
 * The policy layer: rules in a YAML/JSON document (or in TypeScript) evaluated by an engine
 * guard at four stages: before each run (`run`), before each model call (`call`), on each answer
 * (`output`) and on each tool call's arguments (`tool`); allow, deny, redact (PII, with
 * placeholders restored within the run), route, approval and cap; fail-closed rule errors; hot
 * reload with whole-set swaps; tenant weights for fair share.
 *
 * @example
 * ```ts
 * import { createPolicyGuard } from 'llm-orchestrator/governance';
 * const engine = createEngine({ guard: createPolicyGuard({ document: rulesYaml }) });
 * ```
 * @module
 */
export {
  PolicyFrameSchema, PolicyMatchSchema, PolicyRedactSchema, PolicyRuleSchema,
  type CustomPolicyRule, type OutputSubject, type PolicyActionName, type PolicyDocument,
  type PolicyDocumentInput, type PolicyMatch, type PolicyOutcome, type PolicyRule, type PolicyStage, type ToolOutcome,
} from './schema.ts';
export { parsePolicyRules, type ParsePolicyOptions } from './parse.ts';
export type { MatchSubject } from './match.ts';
export {
  createPolicyGuard, type PolicyDecision, type PolicyGuard, type PolicyGuardOptions, type PolicyRuleFailure, type PolicyStats,
} from './guard.ts';
export { GOVERNANCE_TARGET, applyGovernanceUpdate, type GovernanceUpdateResult } from './update.ts';
