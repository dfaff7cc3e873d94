/**
 * Requests-per-minute and tokens-per-minute limits for one provider model,
 * shared by every run. Token buckets refill continuously; a request reserves its
 * estimated tokens up front and is reconciled with the real usage afterwards
 * (an underestimate becomes debt that later requests wait out). The provider's
 * own headers can pause the limiter (`retry-after`, remaining = 0 until reset).
 * Waiters are served in order; every wait is a timer, so tests use fake timers.
 * @module
 */
import { CancelledError } from '../errors.ts';
import type { RateLimitInfo } from './types.ts';

/** Limits of one model. */
export interface RateLimits {
  /** Requests per minute. */
  readonly rpm?: number;
  /** Tokens (input + output) per minute. */
  readonly tpm?: number;
}

/** A granted request; pass it to `settle` with the real token count. */
export interface Reservation {
  readonly tokens: number;
}

interface Waiter {
  readonly tokens: number;
  readonly resolve: (r: Reservation) => void;
  readonly reject: (e: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

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
  #requests: number;
  #tokens: number;
  #last: number;
  #pausedUntil = 0;
  readonly #queue: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limits: RateLimits) {
    this.#rpm = limits.rpm ?? Infinity;
    this.#tpm = limits.tpm ?? Infinity;
    this.#requests = this.#rpm;
    this.#tokens = this.#tpm;
    this.#last = Date.now();
  }

  /** Requests waiting for capacity. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Waits until one request and `tokens` tokens are available, then takes them. */
  acquire(tokens: number, signal?: AbortSignal): Promise<Reservation> {
    const want = Math.min(tokens, this.#tpm);
    if (this.#queue.length === 0 && this.#tryTake(want)) return Promise.resolve({ tokens: want });
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
    this.#refill();
    this.#tokens += r.tokens - actualTokens;
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

  #refill(): void {
    const now = Date.now();
    const dt = now - this.#last;
    this.#last = now;
    if (dt <= 0) return;
    if (this.#rpm !== Infinity) this.#requests = Math.min(this.#rpm, this.#requests + (dt * this.#rpm) / 60_000);
    if (this.#tpm !== Infinity) this.#tokens = Math.min(this.#tpm, this.#tokens + (dt * this.#tpm) / 60_000);
  }

  #tryTake(tokens: number): boolean {
    this.#refill();
    if (Date.now() < this.#pausedUntil) return false;
    if (this.#requests < 1 || this.#tokens < tokens) return false;
    this.#requests -= 1;
    this.#tokens -= tokens;
    return true;
  }

  /** Ms until the head waiter can go. */
  #delay(tokens: number): number {
    const now = Date.now();
    let d = Math.max(0, this.#pausedUntil - now);
    if (this.#requests < 1) d = Math.max(d, ((1 - this.#requests) * 60_000) / this.#rpm);
    if (this.#tokens < tokens) d = Math.max(d, ((tokens - this.#tokens) * 60_000) / this.#tpm);
    return Math.ceil(d);
  }

  #schedule(): void {
    while (this.#queue.length > 0 && this.#tryTake(this.#queue[0]!.tokens)) {
      const w = this.#queue.shift()!;
      w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve({ tokens: w.tokens });
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
