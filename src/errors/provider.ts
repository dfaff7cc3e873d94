/**
 * The error of a failed LLM provider call: {@link ProviderError}, with where it came from
 * (provider, model, HTTP status, request id) and how long the provider asked us to wait.
 *
 * @example
 * ```ts
 * if (isProviderError(e) && e.status === 429) console.log(e.provider, e.retryAfterMs);
 * ```
 * @module
 */

import { OrchestratorError } from './base.ts';
import { B, has, mark } from './brand.ts';

/** Where a provider failure came from. */
export interface ProviderErrorDetails {
  readonly provider: string;
  readonly model: string;
  /** HTTP status, when the failure was an HTTP response. */
  readonly status?: number;
  /** How long the provider asked us to wait before trying again. */
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  readonly cause?: unknown;
}

/**
 * An LLM provider call failed. `code` and `retriable` come from one table
 * (see `classifyFailure`): 429 rate limits, 5xx, 529, timeouts and cut streams
 * are retriable; 4xx, exhausted quota, context length and content filters are not.
 *
 * @example
 * ```ts
 * if (isProviderError(e) && e.retriable) await sleep(e.retryAfterMs ?? 1000);
 * ```
 */
export class ProviderError extends OrchestratorError {
  readonly provider: string;
  readonly model: string;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly requestId: string | undefined;
  constructor(code: string, message: string, retriable: boolean, details: ProviderErrorDetails) {
    super(code, `${details.provider}:${details.model}: ${message}`, details.cause === undefined ? { retriable } : { retriable, cause: details.cause });
    this.provider = details.provider;
    this.model = details.model;
    this.status = details.status;
    this.retryAfterMs = details.retryAfterMs;
    this.requestId = details.requestId;
    mark(this, B.provider);
  }
}

/** True for {@link ProviderError}. */
export function isProviderError(e: unknown): e is ProviderError {
  return has(e, B.provider);
}
