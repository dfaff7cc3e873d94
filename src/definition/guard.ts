/**
 * The contract between the engine and its guards (`createEngine({ guard })`): a guard is
 * asked before a run is admitted and before each model call, and may watch the call as it
 * streams and check its output. Governance (policy rules, budgets, quotas) implements it
 * one layer up (`llm-orchestrator/governance`); the engine only asks and applies the answer.
 * An engine without a guard asks nothing and builds none of these records.
 * @module
 */
import * as z from 'zod';
import type { OrchestratorError } from '../errors.ts';
import type { CompletionRequest, Usage } from '../providers/types.ts';

/**
 * Who and what a check is about.
 *
 * @example
 * ```ts
 * const s: GuardSubject = { runId: 'r1', topology: 'rag', tenant: 'acme', user: 'u7', project: 'search' };
 * ```
 */
export interface GuardSubject {
  /** The top-level run (a sub-topology's calls are checked as its parent run's). */
  readonly runId: string;
  readonly topology: string;
  readonly tenant?: string | undefined;
  readonly user?: string | undefined;
  readonly project?: string | undefined;
  /** The run's experiment variant, when a loop decided one. */
  readonly variant?: string | undefined;
}

/**
 * What a guard is asked before a new run is admitted (recovered and resumed runs were admitted before and are not asked again).
 *
 * @example
 * ```ts
 * const check: RunCheck = { runId: 'r1', topology: 'rag', tenant: 'acme', input: { question: 'Hi' } };
 * ```
 */
export interface RunCheck extends GuardSubject {
  readonly input: unknown;
}

/**
 * A guard's answer for a run: admit it (and hear when it ends, to free what it holds), or refuse it.
 *
 * @example
 * ```ts
 * const v: RunVerdict = { action: 'deny', rule: 'tenant-quota', error: new PolicyError('QUOTA_EXCEEDED', 'acme ran 1,000 runs today', { rule: 'tenant-quota' }) };
 * ```
 */
export type RunVerdict =
  | {
    readonly action: 'allow';
    readonly rule?: string | undefined;
    /**
     * Called once when the run ends: how it ended (`waiting`: a durable run parked and left the process),
     * or `refused` when it was never admitted (a later guard refused it, or it was cancelled while the
     * guards decided): it never ran, so release what was reserved for it.
     */
    readonly ended?: ((status: 'completed' | 'failed' | 'cancelled' | 'waiting' | 'refused') => void) | undefined;
  }
  | { readonly action: 'deny'; readonly rule: string; readonly error: OrchestratorError };

/**
 * The pre-flight estimate of a model call: its prompt tokens, the most it may write, and their price.
 *
 * @example
 * ```ts
 * const e: CallEstimate = { inputTokens: 520, outputTokens: 256, costUsd: 0.0042 };
 * ```
 */
export interface CallEstimate {
  readonly inputTokens: number;
  /** The request's `maxTokens`, or the engine's default output allowance when it sets none. */
  readonly outputTokens: number;
  /** Both at the model's price (0 when the catalogue has no price). */
  readonly costUsd: number;
}

/**
 * What a guard is asked before each model call (each attempt of each model of a node's chain).
 *
 * @example
 * ```ts
 * const check: CallCheck = { runId: 'r1', topology: 'rag', nodeId: 'answer', model: 'openai:gpt-4o-mini', provider: 'openai',
 *   request: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, attempt: 1, estimate: { inputTokens: 8, outputTokens: 256, costUsd: 0.0002 } };
 * ```
 */
export interface CallCheck extends GuardSubject {
  readonly nodeId: string;
  /** Model reference (`provider:model`) about to be called. */
  readonly model: string;
  readonly provider: string;
  /** The request about to be sent (messages, parameters). */
  readonly request: CompletionRequest;
  /** 1 for the first call of this model in the node, 2 for its first retry, ... */
  readonly attempt: number;
  /** Priced on first read (tokenizing a long prompt costs tens of µs; guards that never read it pay nothing). */
  readonly estimate: CallEstimate;
  /** Rules a person already approved for this call (the payload of their approval signal), by rule name. */
  readonly approved?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Prices a request on another model (for a guard that routes: what the call would cost there);
   * undefined for a model the catalogue does not know.
   */
  readonly estimateOn: (model: string, request: CompletionRequest) => CallEstimate | undefined;
}

/**
 * What a guard watching a call hears and may do: cut it while it streams, settle what it holds
 * when it ends, and check (or rewrite) its output.
 *
 * @example
 * ```ts
 * const watch: CallWatch = {
 *   streamed: (tokens, cost) => (cost > 0.05 ? new PolicyError('BUDGET_EXCEEDED', 'the budget ran out mid-stream') : undefined),
 *   ended: (used) => ledger.settle(id, used?.costUsd ?? 0),
 * };
 * ```
 */
export interface CallWatch {
  /**
   * After each streamed chunk: output tokens and cost so far. Returning an error cuts the call
   * (the node fails with it, its partial text kept in the error); keep it cheap, it runs per chunk.
   */
  readonly streamed?: ((outputTokens: number, costUsd: number) => OrchestratorError | undefined) | undefined;
  /** The call ended, answered or not: what it billed (undefined when it never started generating). Called once. */
  readonly ended?: ((used: { readonly usage: Usage; readonly costUsd: number } | undefined) => void) | undefined;
  /** Checks the answer's text before the node completes: keep it, replace it (redacted), or refuse it. */
  readonly output?: ((text: string) => OutputVerdict | Promise<OutputVerdict>) | undefined;
}

/**
 * A guard's answer for a model call.
 * - `allow`, optionally with a changed `request` (redacted messages, capped `maxTokens`), another `model`
 *   (routed: called instead of the chain's, within the same attempt) and a {@link CallWatch};
 * - `deny`: the node fails with `error` (a PolicyError naming the rule), never retried;
 * - `approval`: the run waits for a person's signal `wait.name` (parked when the engine has a store);
 *   the call is asked about again with the payload in `approved[rule]`; `{ approved: false }` denies it.
 *
 * @example
 * ```ts
 * const v: CallVerdict = { action: 'allow', rule: 'cap-tokens', request: { ...check.request, maxTokens: 512 } };
 * ```
 */
export type CallVerdict =
  | {
    readonly action: 'allow';
    readonly rule?: string | undefined;
    readonly request?: CompletionRequest | undefined;
    readonly model?: string | undefined;
    readonly watch?: CallWatch | undefined;
  }
  | { readonly action: 'deny'; readonly rule: string; readonly error: OrchestratorError }
  | { readonly action: 'approval'; readonly rule: string; readonly wait: { readonly name: string; readonly timeoutMs?: number | undefined } };

/**
 * A guard's answer on a call's output text.
 *
 * @example
 * ```ts
 * const v: OutputVerdict = { action: 'redact', rule: 'pii-out', text: 'mail [EMAIL_1]' };
 * ```
 */
export type OutputVerdict =
  | { readonly action: 'allow' }
  | { readonly action: 'redact'; readonly rule: string; readonly text: string }
  | { readonly action: 'deny'; readonly rule: string; readonly error: OrchestratorError };

/**
 * What a guard is asked before a tool node calls its tool, with the arguments it validated.
 *
 * @example
 * ```ts
 * const check: ToolCheck = { runId: 'r1', topology: 'support', nodeId: 'lookup', tool: 'crm.search', args: { email: 'ana@example.com' } };
 * ```
 */
export interface ToolCheck extends GuardSubject {
  readonly nodeId: string;
  /** The tool's name. */
  readonly tool: string;
  /** The arguments, as the tool's input schema returned them. */
  readonly args: unknown;
}

/**
 * A guard's answer for a tool call: allow (with `args` rewritten, e.g. redacted; they are validated
 * against the tool's input schema again), or deny.
 *
 * @example
 * ```ts
 * const v: ToolVerdict = { action: 'allow', rule: 'pii-tools', args: { email: '[EMAIL_1]' } };
 * ```
 */
export type ToolVerdict =
  | { readonly action: 'allow'; readonly rule?: string | undefined; readonly args?: unknown }
  | { readonly action: 'deny'; readonly rule: string; readonly error: OrchestratorError };

/**
 * A guard: any of its checks may be left out. A check that throws (or rejects) fails closed:
 * the run or call is refused with a PolicyError `POLICY_FAILED` (a guard that wants to fail
 * open catches its own errors). Several guards (`createEngine({ guard: [policies, budgets] })`)
 * are asked in order: the first refusal wins; a changed request or model is what the next one sees.
 *
 * @example
 * ```ts
 * const noNightlyOpus: Guard = {
 *   call: (c) => (c.model.includes('opus') && c.tenant === 'free'
 *     ? { action: 'deny', rule: 'free-tier-models', error: new PolicyError('POLICY_DENIED', 'opus is not on the free tier', { rule: 'free-tier-models' }) }
 *     : { action: 'allow' }),
 * };
 * ```
 */
export interface Guard {
  /** A name for logs, events and `POLICY_FAILED` errors. */
  readonly name?: string;
  run?(check: RunCheck): RunVerdict | Promise<RunVerdict>;
  call?(check: CallCheck): CallVerdict | Promise<CallVerdict>;
  tool?(check: ToolCheck): ToolVerdict | Promise<ToolVerdict>;
  /**
   * Share of a tenant among runs waiting for admission (weighted fair queuing; 1 by default).
   * Read each time a waiter is served, so a policy can change it live.
   */
  weight?(tenant: string): number;
}

/**
 * The payload of an approval signal (a guard's `approval` verdict):
 * `engine.signal(runId, name, { approved: true, by: 'ana' })`. A durable run parked on an approval
 * is refused a payload that does not fit, as for a wait node.
 *
 * @example
 * ```ts
 * ApprovalSchema.parse({ approved: false, by: 'ana', note: 'too expensive' });
 * ```
 */
export const ApprovalSchema = z.strictObject({
  approved: z.boolean(),
  by: z.string().min(1).optional(),
  note: z.string().optional(),
});
