/**
 * The engine's resilience settings and the per-model/per-provider state they
 * create: breakers, bulkheads, default retries and the per-run retry budget.
 * @module
 */
import { bulkhead, BulkheadRejectedError, type BulkheadPolicy } from 'cockatiel';
import { z } from 'zod';
import { RejectedError } from '../errors.ts';
import { Breakers, BreakerOptionsSchema, type BreakerOptions, type BreakerState } from './breakers.ts';
import { RetryOptionsSchema, type RetryOptions } from './retry.ts';

/** Bulkhead of one provider: at most `limit` calls at once and `queue` waiting; more is refused at once. */
export interface BulkheadOptions {
  readonly limit: number;
  readonly queue: number;
}

/**
 * Resilience settings of an engine.
 *
 * @example
 * ```ts
 * createEngine({ resilience: {
 *   retry: { maxAttempts: 4 }, retryBudget: 20,
 *   breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
 *   bulkheads: { openai: { limit: 16, queue: 64 } },
 * } });
 * ```
 */
export interface ResilienceOptions {
  /** Default retries of model calls (and of nodes that set `retry`). */
  readonly retry?: RetryOptions;
  /** Retries a whole run may spend across all its nodes and calls. Default 20. */
  readonly retryBudget?: number;
  readonly breaker?: BreakerOptions;
  /** By provider name. */
  readonly bulkheads?: Readonly<Record<string, BulkheadOptions>>;
}

/** zod schema of {@link ResilienceOptions}. */
export const ResilienceOptionsSchema = z.strictObject({
  retry: RetryOptionsSchema.optional(),
  retryBudget: z.number().int().nonnegative().optional(),
  breaker: BreakerOptionsSchema.optional(),
  bulkheads: z.record(z.string(), z.strictObject({ limit: z.number().int().positive(), queue: z.number().int().nonnegative() })).optional(),
});

/** Resilience state shared by all runs of an engine. */
export class Resilience {
  readonly retry: RetryOptions;
  readonly retryBudget: number;
  readonly breakers: Breakers;
  readonly #bulkheads = new Map<string, BulkheadPolicy>();
  readonly #bulkheadOptions: Readonly<Record<string, BulkheadOptions>>;

  constructor(options: ResilienceOptions, onBreaker: (model: string, state: BreakerState) => void) {
    this.retry = options.retry ?? {};
    this.retryBudget = options.retryBudget ?? 20;
    this.breakers = new Breakers(options.breaker ?? {}, onBreaker);
    this.#bulkheadOptions = options.bulkheads ?? {};
  }

  /** Runs `fn` in the provider's bulkhead (directly when it has none); a full bulkhead refuses at once. */
  async inBulkhead<T>(provider: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const o = this.#bulkheadOptions[provider];
    if (o === undefined) return fn();
    let b = this.#bulkheads.get(provider);
    if (b === undefined) this.#bulkheads.set(provider, (b = bulkhead(o.limit, o.queue)));
    try {
      return await b.execute(fn, signal);
    } catch (e) {
      if (e instanceof BulkheadRejectedError) {
        throw new RejectedError('QUEUE_FULL', `bulkhead of provider '${provider}' is full (${o.limit} calls running, ${o.queue} waiting)`);
      }
      throw e;
    }
  }
}
