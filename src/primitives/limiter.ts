/**
 * A counting semaphore whose waiters are served by priority, with aging so low
 * priority is never starved. Used for stage caps, resource pools, the global
 * task limit and run admission. Aging counts grants, not time: a waiter that has
 * been passed over `agingGrants` times is served next, which is deterministic and
 * needs no clock.
 * @module
 */

/** Priority level: 0 high, 1 normal, 2 low. */
export type Level = 0 | 1 | 2;

/** FIFO queue of items with the grant tick at which each was enqueued. */
class Fifo<T> {
  items: (T | undefined)[] = [];
  ticks: number[] = [];
  head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: T, tick: number): void {
    this.items.push(item);
    this.ticks.push(tick);
  }
  peekTick(): number {
    return this.ticks[this.head]!;
  }
  shift(): T {
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.ticks.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.ticks = this.ticks.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** Options of a {@link Limiter}. */
export interface LimiterOptions {
  /** A waiter passed over this many grants is served first. Default 16. */
  readonly agingGrants?: number;
  /** Most waiters held; `submit` returns `'full'` beyond. Default unbounded. */
  readonly maxQueue?: number;
}

/**
 * Priority semaphore. `submit` either grants at once (returns `'granted'`: the
 * caller proceeds synchronously) or queues the item, and `grant(item)` is called
 * later when a slot frees. Every granted slot must be `release`d exactly once.
 *
 * Re-entrant `release` calls (a grant that completes synchronously) are
 * trampolined, so a long queue of synchronous work never grows the stack.
 *
 * @example
 * ```ts
 * const l = new Limiter<string>(2, (job) => start(job));
 * if (l.submit('a', 1) === 'granted') start('a');
 * // ...when a job ends:
 * l.release();
 * ```
 */
export class Limiter<T> {
  active = 0;
  readonly capacity: number;
  readonly #grant: (item: T) => void;
  readonly #queues: [Fifo<T>, Fifo<T>, Fifo<T>] = [new Fifo(), new Fifo(), new Fifo()];
  readonly #aging: number;
  readonly #maxQueue: number;
  #ticks = 0;
  #draining = false;

  constructor(capacity: number, grant: (item: T) => void, options: LimiterOptions = {}) {
    this.capacity = capacity;
    this.#grant = grant;
    this.#aging = options.agingGrants ?? 16;
    this.#maxQueue = options.maxQueue ?? Infinity;
  }

  /** Number of waiting items. */
  get queued(): number {
    return this.#queues[0].size + this.#queues[1].size + this.#queues[2].size;
  }

  /** Takes a slot now, or queues `item` to be granted later. */
  submit(item: T, level: Level): 'granted' | 'queued' | 'full' {
    if (this.active < this.capacity && this.queued === 0) {
      this.active++;
      return 'granted';
    }
    if (this.queued >= this.#maxQueue) return 'full';
    this.#queues[level].push(item, this.#ticks);
    return 'queued';
  }

  /** Frees a slot and grants it to the best waiter, if any. */
  release(): void {
    this.active--;
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.active < this.capacity) {
        const q = this.#pick();
        if (q === undefined) break;
        this.active++;
        this.#ticks++;
        this.#grant(q.shift());
      }
    } finally {
      this.#draining = false;
    }
  }

  #pick(): Fifo<T> | undefined {
    const [high, normal, low] = this.#queues;
    // Aged waiters first, oldest first; then by priority.
    let aged: Fifo<T> | undefined;
    for (const q of [low, normal]) {
      if (q.size > 0 && this.#ticks - q.peekTick() >= this.#aging && (aged === undefined || q.peekTick() < aged.peekTick())) aged = q;
    }
    if (aged) return aged;
    if (high.size > 0) return high;
    if (normal.size > 0) return normal;
    if (low.size > 0) return low;
    return undefined;
  }
}
