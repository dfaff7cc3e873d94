/**
 * Transient-only retries: exponential backoff with full jitter (cockatiel's
 * ExponentialBackoff with its full-jitter generator: retry k waits a random time
 * below initialDelay·2^(k-1), capped at maxDelay), the provider's `retry-after` honoured, a maximum number of
 * attempts, and a retry budget shared by a whole run so a bad day does not
 * multiply load. The wait between attempts is abortable (the primitives' `sleep`,
 * so virtual-time tests drive it).
 * @module
 */
import { ExponentialBackoff, fullJitterGenerator, type IBackoff } from 'cockatiel';
import * as z from 'zod';
import { RetriesExhaustedError, retriableOf } from '../errors.ts';
import { sleep } from '../primitives/sleep.ts';

/**
 * zod schema of {@link RetryOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * RetryOptionsSchema.parse({ maxAttempts: 4, initialDelayMs: 250 });
 * ```
 */
export const RetryOptionsSchema = z.strictObject({
  /** Total attempts, the first included. Default 3; 1 disables retries. */
  maxAttempts: z.number().int().min(1).optional(),
  /** First backoff delay, ms. Default 500. */
  initialDelayMs: z.number().nonnegative().optional(),
  /** Largest backoff delay, ms. Default 8000. */
  maxDelayMs: z.number().nonnegative().optional(),
  /** Wait what the provider asks (`retry-after`), up to this many ms; longer asks give up. Default 60000. */
  maxRetryAfterMs: z.number().nonnegative().optional(),
});

/**
 * Retry settings: the input type of `RetryOptionsSchema`, so the two cannot drift.
 *
 * @example
 * ```ts
 * const retry: RetryOptions = { maxAttempts: 4, maxDelayMs: 2_000 };
 * ```
 */
export type RetryOptions = Readonly<z.input<typeof RetryOptionsSchema>>;

/**
 * Retries left for a whole run.
 *
 * @example
 * ```ts
 * const budget: RetryBudget = { remaining: 20 }; // shared by every call of one run
 * ```
 */
export interface RetryBudget {
  remaining: number;
}

/**
 * What happens around each retry (for events and restart markers).
 *
 * @example
 * ```ts
 * await withRetries('op', attempt, {}, { signal, budget, onRetry: (e, n, ms) => log(n, ms) });
 * ```
 */
export interface RetryHooks {
  readonly signal: AbortSignal;
  readonly budget?: RetryBudget;
  /** Called before waiting for attempt `attempt` (2 for the first retry). */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Whether an error may be retried; default: its `retriable` flag. */
  readonly retriable?: (error: unknown) => boolean;
}

const retryAfterOf = (e: unknown): number | undefined => {
  const v = (e as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof v === 'number' && v >= 0 ? v : undefined;
};

/**
 * Runs `attempt` until it succeeds, a failure is not retriable, attempts or the
 * budget run out (RetriesExhaustedError with the last failure as cause), or the signal aborts.
 * The first attempt costs nothing beyond the call itself.
 *
 * @example
 * ```ts
 * const out = await withRetries('openai:gpt-4o-mini', (n) => callModel(n), { maxAttempts: 4 }, { signal });
 * ```
 */
export async function withRetries<T>(what: string, attempt: (n: number) => Promise<T>, options: RetryOptions, hooks: RetryHooks): Promise<T> {
  const max = options.maxAttempts ?? 3;
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;
  const retriable = (e: unknown): boolean => (hooks.retriable === undefined ? retriableOf(e) : hooks.retriable(e));
  let backoff: IBackoff<unknown> | undefined;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      if (hooks.signal.aborted || !retriable(e)) throw e;
      if (max === 1) throw e; // retries disabled: the caller sees the failure itself
      if (n >= max) throw new RetriesExhaustedError(what, n, e);
      if (hooks.budget !== undefined && hooks.budget.remaining <= 0) throw new RetriesExhaustedError(what, n, e, 'the run\'s retry budget is spent');
      backoff = backoff === undefined
        ? new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: options.initialDelayMs ?? 500, maxDelay: options.maxDelayMs ?? 8000 }).next()
        : backoff.next(undefined);
      const asked = retryAfterOf(e);
      if (asked !== undefined && asked > maxRetryAfter) throw new RetriesExhaustedError(what, n, e, `retry-after ${asked} ms is longer than ${maxRetryAfter} ms`);
      const delay = Math.max(asked ?? 0, backoff.duration);
      if (hooks.budget !== undefined) hooks.budget.remaining--;
      hooks.onRetry?.(e, n + 1, delay);
      await sleep(delay, hooks.signal);
    }
  }
}
