/**
 * Circuit breakers per model reference (cockatiel's CircuitBreakerPolicy): open
 * after consecutive failures or a failure rate over a window, refuse calls while
 * open, let a half-open probe through after a delay, close when it succeeds.
 * Only transient provider failures and call timeouts count: a 400 or an output
 * that fails its schema says nothing about the provider's health.
 * @module
 */
import {
  BrokenCircuitError, circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, SamplingBreaker,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import * as z from 'zod';
import { CircuitOpenError, isProviderError, isTimeoutError, retriableOf } from '../errors.ts';

/**
 * zod schema of {@link BreakerOptions}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * BreakerOptionsSchema.parse({ consecutiveFailures: 5, halfOpenAfterMs: 10_000 });
 * ```
 */
export const BreakerOptionsSchema = z.strictObject({
  /**
   * Open after this many consecutive transient failures. Default 20: high enough that a provider
   * failing 30 % of calls at random does not trip it under concurrency, low enough for a hard-down one.
   */
  consecutiveFailures: z.number().int().positive().optional(),
  /** Or: open when this share (0–1) of calls fails within `windowMs` (with at least `minimumCalls`). */
  failureRate: z.number().gt(0).max(1).optional(),
  /** Window of `failureRate`, ms. Default 30000. */
  windowMs: z.number().positive().optional(),
  /** Fewest calls in the window before `failureRate` may open the breaker. Default 10. */
  minimumCalls: z.number().int().positive().optional(),
  /** Let a probe through after this long open. Default 30000. */
  halfOpenAfterMs: z.number().positive().optional(),
});

/**
 * Breaker settings: the input type of `BreakerOptionsSchema`, so the two cannot drift.
 *
 * @example
 * ```ts
 * const breaker: BreakerOptions = { failureRate: 0.5, windowMs: 10_000, minimumCalls: 20 };
 * ```
 */
export type BreakerOptions = Readonly<z.input<typeof BreakerOptionsSchema>>;

/**
 * A breaker's state.
 *
 * @example
 * ```ts
 * if (breakers.state('openai:gpt-4o') === 'open') useFallback();
 * ```
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

const STATE: Record<number, BreakerState> = {
  [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half-open', [CircuitState.Isolated]: 'open',
};

/**
 * One breaker per model, created on first use.
 *
 * @example
 * ```ts
 * const breakers = new Breakers({ consecutiveFailures: 3 }, (model, state) => log(model, state));
 * await breakers.execute('openai:gpt-4o', () => call());
 * ```
 */
export class Breakers {
  readonly #options: BreakerOptions;
  readonly #policies = new Map<string, CircuitBreakerPolicy>();
  readonly #onChange: (model: string, state: BreakerState) => void;

  constructor(options: BreakerOptions, onChange: (model: string, state: BreakerState) => void) {
    this.#options = options;
    this.#onChange = onChange;
  }

  #policy(model: string): CircuitBreakerPolicy {
    let p = this.#policies.get(model);
    if (p === undefined) {
      const o = this.#options;
      const breaker = o.failureRate !== undefined
        // cockatiel needs a threshold below 1; 0.999 keeps "open when every call fails"
        ? new SamplingBreaker({ threshold: Math.min(o.failureRate, 0.999), duration: o.windowMs ?? 30_000, minimumRps: Math.max(1 / 60, (o.minimumCalls ?? 10) / ((o.windowMs ?? 30_000) / 1000)) })
        : new ConsecutiveBreaker(o.consecutiveFailures ?? 20);
      p = circuitBreaker(handleWhen((e) => (isProviderError(e) || isTimeoutError(e)) && retriableOf(e)), { halfOpenAfter: o.halfOpenAfterMs ?? 30_000, breaker });
      p.onStateChange((s) => this.#onChange(model, STATE[s]!));
      this.#policies.set(model, p);
    }
    return p;
  }

  /** Current state of a model's breaker. */
  state(model: string): BreakerState {
    const p = this.#policies.get(model);
    return p === undefined ? 'closed' : STATE[p.state]!;
  }

  /** Runs `fn` through the model's breaker; an open breaker refuses with CircuitOpenError. */
  async execute<T>(model: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await this.#policy(model).execute(fn, signal);
    } catch (e) {
      if (e instanceof BrokenCircuitError) throw new CircuitOpenError(model, e);
      throw e;
    }
  }
}
