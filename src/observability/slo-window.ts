/**
 * A time-based sliding window of numeric samples, for SLO rules: count, sum and (when asked to
 * keep them sorted) exact quantiles of the samples of the last `windowMs`. Adding and expiring
 * a sample is O(1) amortized; a sorted window also does a binary search and an array move.
 * @module
 */

/**
 * Samples of the last `windowMs` milliseconds.
 *
 * @example
 * ```ts
 * const w = new SlidingWindow(60_000, true);
 * w.add(Date.now(), 120);
 * w.expire(Date.now());
 * w.quantile(0.99); // 120
 * ```
 */
export class SlidingWindow {
  readonly windowMs: number;
  #ts: number[] = [];
  #values: number[] = [];
  #head = 0;
  #sum = 0;
  readonly #sorted: number[] | undefined;

  constructor(windowMs: number, sorted: boolean) {
    this.windowMs = windowMs;
    this.#sorted = sorted ? [] : undefined;
  }

  /** Samples in the window. */
  get count(): number {
    return this.#ts.length - this.#head;
  }

  /** Sum of the samples in the window. */
  get sum(): number {
    return this.#sum;
  }

  /** Adds a sample taken at `ts` (epoch ms; samples are expected in about time order). */
  add(ts: number, value: number): void {
    this.#ts.push(ts);
    this.#values.push(value);
    this.#sum += value;
    const s = this.#sorted;
    if (s !== undefined) s.splice(upperBound(s, value), 0, value);
  }

  /** Drops the samples taken at or before `now - windowMs`. */
  expire(now: number): void {
    const cutoff = now - this.windowMs;
    const ts = this.#ts;
    let head = this.#head;
    const s = this.#sorted;
    while (head < ts.length && ts[head]! <= cutoff) {
      const v = this.#values[head]!;
      this.#sum -= v;
      if (s !== undefined) s.splice(upperBound(s, v) - 1, 1);
      head++;
    }
    if (head === ts.length) {
      this.#ts = [];
      this.#values = [];
      this.#head = 0;
      this.#sum = 0; // no drift left over from adding and subtracting fractions
    } else if (head > 1024 && head * 2 > ts.length) {
      this.#ts = ts.slice(head);
      this.#values = this.#values.slice(head);
      this.#head = 0;
    } else {
      this.#head = head;
    }
  }

  /** The `q` quantile (nearest rank) of the samples; 0 for an empty window. Needs a sorted window. */
  quantile(q: number): number {
    const s = this.#sorted;
    if (s === undefined) throw new Error('quantile() needs a window made with sorted = true');
    if (s.length === 0) return 0;
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  }
}

/** Index of the first element greater than `v` in ascending `a`. */
function upperBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
