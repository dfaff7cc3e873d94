/**
 * The error of governance: {@link PolicyError} and its codes (a rule refused, a budget or
 * quota ran out, the tenant's concurrency limit was hit).
 *
 * @example
 * ```ts
 * if (isPolicyError(e) && e.code === 'QUOTA_EXCEEDED') console.log(`refused by ${e.rule}`);
 * ```
 * @module
 */

import { OrchestratorError, type OrchestratorErrorOptions } from './base.ts';
import { B, has, mark } from './brand.ts';

/**
 * Codes of {@link PolicyError}.
 *
 * @example
 * ```ts
 * const code: PolicyErrorCode = 'BUDGET_EXCEEDED';
 * ```
 */
export type PolicyErrorCode =
  | 'POLICY_DENIED' // a rule refused the run, the call or its output (or a person refused an approval)
  | 'POLICY_FAILED' // a rule or guard threw while checking: refused (fail-closed)
  | 'BUDGET_EXCEEDED' // the call would spend (or spent, mid-stream) more than the budget has left
  | 'QUOTA_EXCEEDED' // a runs/calls/tokens quota of the period is used up
  | 'CONCURRENCY_LIMIT'; // the tenant already has its most runs in flight (retriable)

/** Options of a {@link PolicyError}. */
export interface PolicyErrorOptions extends OrchestratorErrorOptions {
  /** The rule that refused. */
  readonly rule?: string | undefined;
  /** A call cut mid-stream: the text it streamed before the cut. */
  readonly partial?: string | undefined;
}

/**
 * A governance rule refused a run, a model call or an output, or a budget or quota ran out.
 * Never retried by the engine (a fallback chain does not take over either): the same call
 * would be refused again. `rule` names the rule; a call cut mid-stream keeps its `partial` text.
 *
 * @example
 * ```ts
 * if (isPolicyError(e) && e.code === 'BUDGET_EXCEEDED') console.log(e.rule, e.partial);
 * ```
 */
export class PolicyError extends OrchestratorError {
  declare readonly code: PolicyErrorCode;
  readonly rule: string | undefined;
  readonly partial: string | undefined;
  constructor(code: PolicyErrorCode, message: string, options: PolicyErrorOptions = {}) {
    super(code, message, { retriable: options.retriable ?? code === 'CONCURRENCY_LIMIT', cause: options.cause });
    this.rule = options.rule;
    this.partial = options.partial;
    mark(this, B.policy);
  }
}

/** True for {@link PolicyError}. */
export function isPolicyError(e: unknown): e is PolicyError {
  return has(e, B.policy);
}
