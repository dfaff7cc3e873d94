/**
 * Requests-per-minute and tokens-per-minute limits for one provider model,
 * shared by every run. Sliding 60 s windows: no window ever holds more than
 * `rpm` requests or `tpm` tokens. A request reserves its estimated tokens up
 * front and is reconciled with the real usage afterwards (an underestimate stays
 * in the window as debt that later requests wait out; an overestimate is given
 * back). The provider's own headers can pause the limiter (`retry-after`,
 * remaining = 0 until reset). Waiters are served in order; every wait is a timer,
 * so tests use fake timers.
 * @module
 */
import { z } from 'zod';
import { CancelledError, ValidationError, toIssues } from '../errors.ts';
import type { RateLimitInfo } from './types.ts';

/** Limits of one model. */
export interface RateLimits {
  /** Requests per minute. */
  readonly rpm?: number;
  /** Tokens (input + output) per minute. */
  readonly tpm?: number;
}

/** zod schema of {@link RateLimits}. */
export const RateLimitsSchema = z.strictObject({ rpm: z.number().int().positive().optional(), tpm: z.number().int().positive().optional() });

/** A granted request; pass it to `settle` with the real token count. */
export interface Reservation {
  readonly tokens: number;
}

/** One grant inside the window. */
interface Grant extends Reservation {
  readonly at: number;
  tokens: number;
}

interface Waiter {
  readonly tokens: number;
  readonly resolve: (r: Reservation) => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
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
  readonly #queue: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limits: RateLimits) {
    const r = RateLimitsSchema.safeParse(limits);
    if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'rate limits are invalid', toIssues(r.error.issues, ['rateLimits']));
    this.#rpm = limits.rpm ?? Infinity;
    this.#tpm = limits.tpm ?? Infinity;
  }

  /** Requests waiting for capacity. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Waits until one request and `tokens` tokens fit in the window, then takes them. */
  acquire(tokens: number, signal?: AbortSignal): Promise<Reservation> {
    const want = Math.min(Math.max(0, tokens), this.#tpm);
    if (this.#queue.length === 0) {
      const g = this.#tryTake(want);
      if (g !== undefined) return Promise.resolve(g);
    }
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new CancelledError('rate-limit wait aborted'));
      const w: Waiter = {
        tokens: want, resolve, reject, signal,
        onAbort: () => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(signal!.reason ?? new CancelledError('rate-limit wait aborted'));
          this.#schedule();
        },
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      this.#queue.push(w);
      this.#schedule();
    });
  }

  /** Reconciles a reservation with the tokens really used. */
  settle(r: Reservation, actualTokens: number): void {
    const g = r as Grant;
    const actual = Math.max(0, actualTokens);
    if (this.#grants.includes(g, this.#head)) this.#tokensInWindow += actual - g.tokens;
    g.tokens = actual;
    this.#schedule();
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
      this.#schedule();
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

  #schedule(): void {
    while (this.#queue.length > 0) {
      const g = this.#tryTake(this.#queue[0]!.tokens);
      if (g === undefined) break;
      const w = this.#queue.shift()!;
      w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(g);
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, Math.max(1, this.#delay(this.#queue[0]!.tokens)));
    }
  }
}
