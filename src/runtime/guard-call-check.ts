/**
 * The check a call guard is asked with, whose cost `estimate` is priced lazily on first read:
 * tokenizing a long prompt costs tens of µs, and most guards never read it.
 * @module
 */
import type { CallCheck, CallEstimate, GuardSubject } from '../definition/guard.ts';

/** The estimate of a call on a model the catalogue cannot price. */
const NO_ESTIMATE: CallEstimate = Object.freeze({ inputTokens: 0, outputTokens: 0, costUsd: 0 });

/** What a call check holds besides its subject and estimate. */
type CallFields = Omit<CallCheck, keyof GuardSubject | 'estimate'>;

/**
 * A call check of one fixed shape (every field set, `undefined` when absent) whose `estimate`
 * is computed on first read with `estimateOn`: tokenizing a long prompt costs tens of µs, and
 * most guards never read it. A spread copies the fields, never the estimate.
 *
 * @example
 * ```ts
 * // what the next guard sees after one changed the model: priced again, lazily
 * const next = new LazyCallCheck(cur, cur, 'openai:gpt-4o-mini', cur.request);
 * ```
 */
export class LazyCallCheck implements CallCheck {
  readonly runId: string;
  readonly topology: string;
  readonly tenant: string | undefined;
  readonly user: string | undefined;
  readonly project: string | undefined;
  readonly variant: string | undefined;
  readonly nodeId: string;
  readonly model: string;
  readonly provider: string;
  readonly request: CallCheck['request'];
  readonly attempt: number;
  readonly approved: Readonly<Record<string, unknown>> | undefined;
  readonly estimateOn: CallCheck['estimateOn'];
  #estimate: CallEstimate | undefined = undefined;

  constructor(s: GuardSubject, c: CallFields, model: string, request: CallCheck['request']) {
    this.runId = s.runId;
    this.topology = s.topology;
    this.tenant = s.tenant;
    this.user = s.user;
    this.project = s.project;
    this.variant = s.variant;
    this.nodeId = c.nodeId;
    this.model = model;
    this.provider = c.provider;
    this.request = request;
    this.attempt = c.attempt;
    this.approved = c.approved;
    this.estimateOn = c.estimateOn;
  }

  get estimate(): CallEstimate {
    return (this.#estimate ??= this.estimateOn(this.model, this.request) ?? NO_ESTIMATE);
  }
}

/**
 * The check of a call about `subject`'s run, with its `estimate` priced on first read.
 *
 * @example
 * ```ts
 * const check = lazyCallCheck(subject, { nodeId: 'answer', model: 'openai:gpt-4o', provider: 'openai', request, attempt: 1, estimateOn });
 * check.estimate.costUsd; // priced now, once
 * ```
 */
export function lazyCallCheck(subject: GuardSubject, call: CallFields): CallCheck {
  return new LazyCallCheck(subject, call, call.model, call.request);
}
