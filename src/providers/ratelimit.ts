/**
 * Requests-per-minute and tokens-per-minute limits for one provider model,
 * shared by every run. Sliding 60 s windows: no window ever holds more than
 * `rpm` requests or `tpm` tokens. A request reserves its estimated tokens up
 * front and is reconciled with the real usage afterwards (an underestimate stays
 * in the window as debt that later requests wait out; an overestimate is given
 * back). The provider's own headers can pause the limiter (`retry-after`,
 * remaining = 0 until reset). Waiters are served in order: they queue in the
 * shared Limiter (capacity 1, so FIFO and abort handling are the primitive's),
 * and only the one at the head waits on the clock, since admission is a matter
 * of time rather than of free slots. Every wait is a timer, so tests use fake timers.
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import { onAbort } from '../primitives/abort.ts';
import { Limiter, type Wake } from '../primitives/limiter.ts';
import { sleep } from '../primitives/sleep.ts';
import type { RateLimitInfo } from './types.ts';

/**
 * zod schema of {@link RateLimits}, and the one place its fields are documented.
 *
 * @example
 * ```ts
 * RateLimitsSchema.parse({ rpm: 60, tpm: 90_000 });
 * ```
 */
export const RateLimitsSchema = z.strictObject({
  /** Requests per minute. */
  rpm: z.number().int().positive().optional(),
  /** Tokens (input + output) per minute. */
  tpm: z.number().int().positive().optional(),
});

/**
 * Limits of one model: the input type of `RateLimitsSchema`, so the two cannot drift.
 *
 * @example
 * ```ts
 * createModels({ rateLimits: { 'openai:gpt-4o-mini': { rpm: 500, tpm: 200_000 } satisfies RateLimits } });
 * ```
 */
export type RateLimits = Readonly<z.input<typeof RateLimitsSchema>>;

/**
 * A granted request; pass it to `settle` with the real token count.
 *
 * @example
 * ```ts
 * const r: Reservation = await limiter.acquire(estimate, signal);
 * limiter.settle(r, usage.inputTokens + usage.outputTokens);
 * ```
 */
export interface Reservation {
  readonly tokens: number;
}

/** One grant inside the window. */
interface Grant extends Reservation {
  readonly at: number;
  tokens: number;
}

const WINDOW = 60_000;

/**
 * Rate limiter of one model.
 *
 * @example
 * ```ts
 * const limit = new RateLimiter({ rpm: 60, tpm: 90_000 });
 * const r = await limit.acquire(1200, signal);
 * // ... call the model ...
 * limit.settle(r, usage.inputTokens + usage.outputTokens);
 * ```
 */
export class RateLimiter {
  readonly #rpm: number;
  readonly #tpm: number;
  /** Grants of the last 60 s, oldest first. */
  #grants: Grant[] = [];
  #head = 0;
  #tokensInWindow = 0;
  #pausedUntil = 0;
  /** The waiting line: whoever holds its one slot is the head and waits on the clock. */
  readonly #turn: Limiter<Wake> = Limiter.awaitable(1);
  /** Wakes the head's clock wait early (a settle or a pause may change when it can go). */
  #wake: AbortController | undefined;

  constructor(limits: RateLimits) {
    const r = RateLimitsSchema.safeParse(limits);
    if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'rate limits are invalid', toIssues(r.error.issues, ['rateLimits']));
    this.#rpm = limits.rpm ?? Infinity;
    this.#tpm = limits.tpm ?? Infinity;
  }

  /** Requests waiting for capacity. */
  get waiting(): number {
    return this.#turn.queued + this.#turn.active;
  }

  /** Waits until one request and `tokens` tokens fit in the window, then takes them. */
  acquire(tokens: number, signal?: AbortSignal): Promise<Reservation> {
    return this.#admit(Math.min(Math.max(0, tokens), this.#tpm), signal);
  }

  async #admit(want: number, signal: AbortSignal | undefined): Promise<Reservation> {
    const turn = this.#turn.acquire(1, signal);
    if (turn !== 'granted') await turn; // never 'full': the line is unbounded
    try {
      let g: Grant | undefined;
      while ((g = this.#tryTake(want)) === undefined) {
        if (signal?.aborted) throw signal.reason;
        await this.#nap(Math.max(1, this.#delay(want)), signal);
      }
      return g;
    } finally {
      this.#turn.release();
    }
  }

  /** Sleeps `ms`, less when woken; rejects only when `signal` aborts. */
  async #nap(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const wake = (this.#wake = new AbortController());
    const unlisten = onAbort(signal, (reason) => wake.abort(reason));
    try {
      await sleep(ms, wake.signal);
    } catch (e) {
      if (signal?.aborted) throw e; // else woken early: look again
    } finally {
      unlisten();
      this.#wake = undefined;
    }
  }

  /** Reconciles a reservation with the tokens really used. */
  settle(r: Reservation, actualTokens: number): void {
    const g = r as Grant;
    const actual = Math.max(0, actualTokens);
    if (this.#grants.includes(g, this.#head)) this.#tokensInWindow += actual - g.tokens;
    g.tokens = actual;
    this.#wake?.abort();
  }

  /** Applies what the provider's headers said. */
  observe(info: RateLimitInfo): void {
    const now = Date.now();
    let until = 0;
    if (info.retryAfterMs !== undefined) until = Math.max(until, now + info.retryAfterMs);
    if (info.remainingRequests === 0 && info.resetRequestsMs !== undefined) until = Math.max(until, now + info.resetRequestsMs);
    if (info.remainingTokens === 0 && info.resetTokensMs !== undefined) until = Math.max(until, now + info.resetTokensMs);
    if (until > this.#pausedUntil) {
      this.#pausedUntil = until;
      this.#wake?.abort();
    }
  }

  /** Drops grants older than the window. */
  #expire(now: number): void {
    const gs = this.#grants;
    while (this.#head < gs.length && gs[this.#head]!.at <= now - WINDOW) this.#tokensInWindow -= gs[this.#head++]!.tokens;
    if (this.#head > 256 && this.#head * 2 > gs.length) {
      this.#grants = gs.slice(this.#head);
      this.#head = 0;
    }
  }

  #tryTake(tokens: number): Grant | undefined {
    const now = Date.now();
    this.#expire(now);
    if (now < this.#pausedUntil) return undefined;
    if (this.#grants.length - this.#head + 1 > this.#rpm) return undefined;
    if (this.#tokensInWindow + tokens > this.#tpm && this.#grants.length > this.#head) return undefined;
    const g: Grant = { at: now, tokens };
    this.#grants.push(g);
    this.#tokensInWindow += tokens;
    return g;
  }

  /** Ms until the head waiter can go. */
  #delay(tokens: number): number {
    const now = Date.now();
    let d = Math.max(0, this.#pausedUntil - now);
    const gs = this.#grants;
    const count = gs.length - this.#head;
    if (count + 1 > this.#rpm) d = Math.max(d, gs[this.#head + count - this.#rpm]!.at + WINDOW - now);
    if (this.#tokensInWindow + tokens > this.#tpm) {
      // wait until enough old grants leave the window
      let free = this.#tpm - this.#tokensInWindow - tokens;
      for (let i = this.#head; i < gs.length && free < 0; i++) {
        free += gs[i]!.tokens;
        d = Math.max(d, gs[i]!.at + WINDOW - now);
      }
    }
    return Math.ceil(d);
  }
}
