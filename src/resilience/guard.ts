/**
 * One guarded model call: retries (transient failures only) around the
 * provider's bulkhead around the model's circuit breaker around the call. The
 * llm operator uses it for every model of a fallback chain; the benchmark W10
 * measures exactly this function. It creates no named closure per call (under
 * tsx, each costs an Object.defineProperty): the per-call state lives in a
 * {@link GuardedCall} object whose methods are on its prototype.
 * @module
 */
import { isCircuitOpenError, retriableOf } from '../errors.ts';
import type { Resilience } from './resilience.ts';
import { withRetries, type RetryBudget, type RetryHooks, type RetryOptions } from './retry.ts';

/**
 * What a guarded call needs beyond the function: where it goes and how its retries are recorded.
 *
 * @example
 * ```ts
 * const call: GuardedCall = { ref: 'openai:gpt-4o', provider: 'openai', retry: {}, signal, budget };
 * ```
 */
export interface GuardedCall extends RetryHooks {
  /** Model reference (breaker key). */
  readonly ref: string;
  /** Provider name (bulkhead key). */
  readonly provider: string;
  readonly retry: RetryOptions;
}

/**
 * Default hooks of a guarded call: transient failures are retried, except an open
 * breaker (fall back instead) and a full bulkhead (refused at once, as promised).
 * Subclass to record retries or to veto more of them.
 *
 * @example
 * ```ts
 * await guardedCall(resilience, new CallHooks('openai:gpt-4o', 'openai', {}, signal, budget), () => call());
 * ```
 */
export class CallHooks implements GuardedCall {
  constructor(
    readonly ref: string,
    readonly provider: string,
    readonly retry: RetryOptions,
    readonly signal: AbortSignal,
    readonly budget: RetryBudget,
  ) {}

  /** Whether another attempt may follow this failure. */
  retriable(e: unknown): boolean {
    return retriableOf(e) && !isCircuitOpenError(e) && (e as { code?: unknown }).code !== 'QUEUE_FULL';
  }
}

/**
 * Runs `fn` with retries, inside the provider's bulkhead and the model's breaker.
 *
 * @example
 * ```ts
 * const out = await guardedCall(services.resilience, hooks, () => streamOnce());
 * ```
 */
export function guardedCall<T>(resilience: Resilience, call: GuardedCall, fn: () => Promise<T>): Promise<T> {
  return withRetries(
    call.ref,
    () => resilience.inBulkhead(call.provider, () => resilience.breakers.execute(call.ref, fn, call.signal), call.signal),
    call.retry,
    call,
  );
}
