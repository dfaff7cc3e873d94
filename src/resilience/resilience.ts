/**
 * The engine's resilience settings and the per-model/per-provider state they
 * create: breakers, bulkheads, default retries and the per-run retry budget.
 * @module
 */
import { z } from 'zod';
import { CancelledError, RejectedError } from '../errors.ts';
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

/**
 * A bulkhead: at most `limit` calls at once and `queue` waiting, served in order;
 * more is refused at once. A waiting call whose signal aborts leaves the queue
 * immediately (cockatiel's bulkhead only notices at dequeue time).
 */
class Bulkhead {
  #active = 0;
  readonly #waiting: { readonly go: () => void; readonly signal: AbortSignal | undefined; readonly onAbort: () => void }[] = [];
  constructor(readonly provider: string, readonly options: BulkheadOptions) {}

  async execute<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#active >= this.options.limit) {
      if (this.#waiting.length >= this.options.queue) {
        throw new RejectedError('QUEUE_FULL', `bulkhead of provider '${this.provider}' is full (${this.options.limit} calls running, ${this.options.queue} waiting)`);
      }
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason ?? new CancelledError('aborted'));
        const w = {
          signal,
          go: () => { signal?.removeEventListener('abort', w.onAbort); resolve(); },
          onAbort: () => {
            const i = this.#waiting.indexOf(w);
            if (i >= 0) this.#waiting.splice(i, 1);
            reject(signal!.reason ?? new CancelledError('aborted'));
          },
        };
        signal?.addEventListener('abort', w.onAbort, { once: true });
        this.#waiting.push(w);
      });
    } else this.#active++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next.go(); // the slot passes straight to the next caller
      else this.#active--;
    }
  }
}

/** Resilience state shared by all runs of an engine. */
export class Resilience {
  readonly retry: RetryOptions;
  readonly retryBudget: number;
  readonly breakers: Breakers;
  readonly #bulkheads = new Map<string, Bulkhead>();
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
    if (b === undefined) this.#bulkheads.set(provider, (b = new Bulkhead(provider, o)));
    return b.execute(fn, signal);
  }
}
