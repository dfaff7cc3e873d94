/**
 * Feedback loop messages: evaluation feedback, evaluation requests, experience records and policy
 * updates (with the governance target), as TypeScript types mirroring the Avro schemas in `schemas/`,
 * plus zod schemas for the inbound kinds (feedback, policy updates) so they arrive validated.
 * @module
 */
import * as z from 'zod';

/**
 * Evaluation feedback (v3; v1 data reads with `comment: null`, v1 and v2 data with `label: null`).
 *
 * @example
 * ```ts
 * await transport.send('feedback', [{ key: runId, value: { ...feedback, score: 0.9 } }]);
 * ```
 */
export interface FeedbackMessage {
  readonly feedbackId: string;
  readonly topology: string;
  readonly runId: string | null;
  readonly nodeId: string | null;
  readonly model: string | null;
  readonly metric: string;
  readonly score: number;
  readonly source: string;
  readonly ts: number;
  readonly comment: string | null;
  /** A categorical verdict beside the score (e.g. `pass`, `hallucination`); v3, null when absent. */
  readonly label?: string | null;
}

/**
 * What an evaluator needs to judge one run (or one marked llm node of it): sent when a
 * sampled run ends, on the evaluations topic (Kafka) or the loop's `evaluations$`.
 *
 * @example
 * ```ts
 * loop.evaluations$.subscribe((e) => judge(JSON.parse(e.input), JSON.parse(e.output)));
 * ```
 */
export interface EvaluationRequestMessage {
  /** `<runId>` for the run, `<runId>:<nodeId>` for a node. */
  readonly evaluationId: string;
  readonly runId: string;
  /** Set when one llm node is evaluated on its own. */
  readonly nodeId: string | null;
  readonly topology: string;
  /** `topologyVersion` of the definition that ran. */
  readonly version: string;
  readonly variant: string | null;
  readonly policyVersion: number | null;
  readonly promptVersion: string | null;
  /** The model that answered, by llm node id. */
  readonly models: Readonly<Record<string, string>>;
  /** Bandit choices by decision name. */
  readonly arms: Readonly<Record<string, string>>;
  /** JSON text of the run input. */
  readonly input: string;
  /** JSON text of the run output (or the node's output). */
  readonly output: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly latencyMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
  readonly tenant: string | null;
  readonly user: string | null;
  readonly ts: number;
}

/**
 * A state-action-reward record for offline training of routers: which arm a bandit took
 * for a run, in what context, and the reward its feedback earned.
 *
 * @example
 * ```ts
 * loop.experience$.subscribe((x) => dataset.push([x.context, x.arm, x.reward]));
 * ```
 */
export interface ExperienceMessage {
  readonly runId: string;
  readonly topology: string;
  /** The decision's name (the llm node id). */
  readonly decision: string;
  readonly arm: string;
  /** JSON text: variant, policy version, tenant, user, and the run input. */
  readonly context: string;
  readonly metric: string;
  /** The quality score from feedback. */
  readonly quality: number;
  readonly costUsd: number;
  /** quality - costWeight x costUsd. */
  readonly reward: number;
  readonly ts: number;
}

/**
 * The policy-update target of governance rules (`llm-orchestrator/governance`, `applyGovernanceUpdate`):
 * updates with it carry a rules document for the policy guards, not a topology's policy, so feedback
 * loops leave them alone.
 *
 * @example
 * ```ts
 * if (update.target === GOVERNANCE_POLICY_TARGET) applyGovernanceUpdate(policyGuard, update);
 * ```
 */
export const GOVERNANCE_POLICY_TARGET = 'governance';

/**
 * A policy update from the optimizer.
 *
 * @example
 * ```ts
 * const temperature = JSON.parse(policy.params.temperature ?? 'null');
 * ```
 */
export interface PolicyUpdateMessage {
  readonly policyId: string;
  readonly version: number;
  readonly target: string;
  readonly params: Readonly<Record<string, string>>;
  readonly reason: string | null;
  readonly ts: number;
}

/**
 * Semantic checks of inbound feedback beyond the Avro shape.
 *
 * @example
 * ```ts
 * FeedbackSchema.safeParse(feedback).success;
 * ```
 */
export const FeedbackSchema = z.object({
  feedbackId: z.string().min(1),
  topology: z.string().min(1),
  metric: z.string().min(1),
  score: z.number().finite(),
  source: z.string().min(1),
  ts: z.number().nonnegative(),
}).loose();

/**
 * Semantic checks of inbound policy updates beyond the Avro shape.
 *
 * @example
 * ```ts
 * PolicyUpdateSchema.safeParse(policy).success;
 * ```
 */
export const PolicyUpdateSchema = z.object({
  policyId: z.string().min(1),
  version: z.number().int().nonnegative(),
  target: z.string().min(1),
  params: z.record(z.string(), z.string().refine((v) => { try { JSON.parse(v); return true; } catch { return false; } }, 'must be JSON text')),
}).loose();
