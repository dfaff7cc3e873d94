/**
 * The engine's resilience settings and the per-model/per-provider state they
 * create: breakers, bulkheads, default retries and the per-run retry budget.
 * A bulkhead is the shared {@link Limiter} (awaitable form, `maxQueue`), so a
 * waiting call whose signal aborts leaves the queue at once (cockatiel's
 * bulkhead only notices at dequeue time).
 * @module
 */
import * as z from 'zod';
import { RejectedError } from '../errors.ts';
import { Limiter, type Wake } from '../primitives/limiter.ts';
import { Breakers, BreakerOptionsSchema, type BreakerState } from './breakers.ts';
import { RetryOptionsSchema, type RetryOptions } from './retry.ts';

/**
 * zod schema of {@link BulkheadOptions}.
 *
 * @example
 * ```ts
 * BulkheadOptionsSchema.parse({ limit: 16, queue: 64 });
 * ```
 */
export const BulkheadOptionsSchema = z.strictObject({
  /** Most calls running at once. */
  limit: z.number().int().positive(),
  /** Most calls waiting for a free place; more are refused at once (`QUEUE_FULL`). */
  queue: z.number().int().nonnegative(),
});

/**
 * Bulkhead of one provider: at most `limit` calls at once and `queue` waiting; more is refused at once.
 *
 * @example
 * ```ts
 * const openai: BulkheadOptions = { limit: 16, queue: 64 };
 * ```
 */
export type BulkheadOptions = Readonly<z.input<typeof BulkheadOptionsSchema>>;

/**
 * zod schema of {@link ResilienceOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * ResilienceOptionsSchema.parse({ retryBudget: 10, bulkheads: { openai: { limit: 8, queue: 32 } } });
 * ```
 */
export const ResilienceOptionsSchema = z.strictObject({
  /** Default retries of model calls (and of nodes that set `retry`). */
  retry: RetryOptionsSchema.optional(),
  /** Retries a whole run may spend across all its nodes and calls. Default 20. */
  retryBudget: z.number().int().nonnegative().optional(),
  /** Circuit breaker of every model. */
  breaker: BreakerOptionsSchema.optional(),
  /** By provider name. */
  bulkheads: z.record(z.string(), BulkheadOptionsSchema).optional(),
});

/**
 * Resilience settings of an engine: the input type of `ResilienceOptionsSchema`, so the two cannot drift.
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
export type ResilienceOptions = Readonly<z.input<typeof ResilienceOptionsSchema>>;

/**
 * Resilience state shared by all runs of an engine.
 *
 * @example
 * ```ts
 * const resilience = new Resilience({ bulkheads: { openai: { limit: 2, queue: 8 } } }, (model, state) => log(model, state));
 * await resilience.inBulkhead('openai', () => call(), signal);
 * ```
 */
export class Resilience {
  readonly retry: RetryOptions;
  readonly retryBudget: number;
  readonly breakers: Breakers;
  readonly #bulkheads = new Map<string, Limiter<Wake>>();
  readonly #bulkheadOptions: Readonly<Record<string, BulkheadOptions>>;

  constructor(options: ResilienceOptions, onBreaker: (model: string, state: BreakerState) => void) {
    this.retry = options.retry ?? {};
    this.retryBudget = options.retryBudget ?? 20;
    this.breakers = new Breakers(options.breaker ?? {}, onBreaker);
    this.#bulkheadOptions = options.bulkheads ?? {};
  }

  /**
   * Runs `fn` in the provider's bulkhead (directly when it has none): at most `limit` at once,
   * `queue` waiting in order; a full bulkhead refuses at once (RejectedError `QUEUE_FULL`), and a
   * waiting call whose signal aborts leaves the queue with the abort reason.
   */
  async inBulkhead<T>(provider: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const o = this.#bulkheadOptions[provider];
    if (o === undefined) return fn();
    let slots = this.#bulkheads.get(provider);
    if (slots === undefined) this.#bulkheads.set(provider, (slots = Limiter.awaitable(o.limit, { maxQueue: o.queue })));
    const turn = slots.acquire(1, signal);
    if (turn === 'full') {
      throw new RejectedError('QUEUE_FULL', `bulkhead of provider '${provider}' is full (${o.limit} calls running, ${o.queue} waiting)`);
    }
    if (turn !== 'granted') await turn;
    try {
      return await fn();
    } finally {
      slots.release(); // the slot passes straight to the next caller
    }
  }
}
