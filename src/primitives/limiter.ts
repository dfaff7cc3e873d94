/**
 * The one queue/slot primitive: a counting semaphore whose waiters are served by
 * priority, with aging so low priority is never starved, and fairly between flows
 * (tenants) within a priority. Used for stage caps,
 * resource pools, the global task limit, run admission, provider bulkheads,
 * Kafka handlers in flight and the rate limiter's waiting line. Aging counts
 * grants, not time: a waiter that has been passed over `agingGrants` times is
 * served next, which is deterministic and needs no clock.
 *
 * Two forms over one queue: callback (`submit` an item, `grant(item)` is called
 * when a slot frees; the runtime's hot path, no promise per item) and awaitable
 * (`acquire` on a limiter made by {@link Limiter.awaitable}: a promise per
 * waiter, abort leaves the queue at once).
 * @module
 */
import { onAbort } from './abort.ts';
import { FairQueue, type FlowWeight } from './fair-queue.ts';

/**
 * Priority level: 0 high, 1 normal, 2 low.
 *
 * @example
 * ```ts
 * limiter.submit(job, 0); // served before normal (1) and low (2) waiters
 * ```
 */
export type Level = 0 | 1 | 2;

/**
 * A waiter of the awaitable form: called once, when it is granted a slot.
 *
 * @example
 * ```ts
 * const waiter: Wake = () => resolve(); // what `acquire` queues
 * ```
 */
export type Wake = () => void;

const wake = (w: Wake): void => w();

/**
 * Options of a {@link Limiter}.
 *
 * @example
 * ```ts
 * const bulkhead = Limiter.awaitable(16, { maxQueue: 64, agingGrants: 8 });
 * ```
 */
export interface LimiterOptions {
  /** A waiter passed over this many grants is served first. Default 16. */
  readonly agingGrants?: number;
  /** Most waiters held; `submit` and `acquire` return `'full'` beyond. Default unbounded. */
  readonly maxQueue?: number;
  /** Share of each flow (tenant) among waiters of one priority (see {@link FairQueue}). Default: equal. */
  readonly weight?: FlowWeight;
}

/**
 * Priority semaphore. `submit` either grants at once (returns `'granted'`: the
 * caller proceeds synchronously), refuses (`'full'`, beyond `maxQueue`) or queues
 * the item, and `grant(item)` is called later when a slot frees; `remove` takes a
 * queued item back. Every granted slot must be `release`d exactly once.
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
  readonly #queues: [FairQueue<T>, FairQueue<T>, FairQueue<T>];
  readonly #aging: number;
  readonly #maxQueue: number;
  #ticks = 0;
  #draining = false;

  /**
   * A limiter for the awaitable form ({@link Limiter.acquire}): its items are
   * waiters, and granting one wakes it.
   *
   * @example
   * ```ts
   * const slots = Limiter.awaitable(8);
   * const turn = slots.acquire(1, signal);
   * if (turn === 'full') throw new Error('busy');
   * if (turn !== 'granted') await turn;
   * try { await work(); } finally { slots.release(); }
   * ```
   */
  static awaitable(capacity: number, options: LimiterOptions = {}): Limiter<Wake> {
    return new Limiter<Wake>(capacity, wake, options);
  }

  constructor(capacity: number, grant: (item: T) => void, options: LimiterOptions = {}) {
    this.capacity = capacity;
    this.#grant = grant;
    this.#aging = options.agingGrants ?? 16;
    this.#maxQueue = options.maxQueue ?? Infinity;
    this.#queues = [new FairQueue(options.weight), new FairQueue(options.weight), new FairQueue(options.weight)];
  }

  /** Number of waiting items. */
  get queued(): number {
    return this.#queues[0].size + this.#queues[1].size + this.#queues[2].size;
  }

  /**
   * Takes a slot now, or queues `item` to be granted later. `flow` (a tenant) orders waiters of
   * one priority: FIFO within a flow, weighted fair between flows.
   */
  submit(item: T, level: Level, flow?: string): 'granted' | 'queued' | 'full' {
    if (this.active < this.capacity && this.queued === 0) {
      this.active++;
      return 'granted';
    }
    if (this.queued >= this.#maxQueue) return 'full';
    this.#queues[level].push(item, this.#ticks, flow);
    return 'queued';
  }

  /**
   * The awaitable form of {@link Limiter.submit}, on a limiter made by
   * {@link Limiter.awaitable}: `'granted'` (proceed now), `'full'` (refused,
   * nothing queued), or a promise that resolves once a slot is granted, or rejects
   * with the abort reason when `signal` aborts first (the waiter leaves the queue
   * at once). A free slot is taken even when `signal` has already aborted; a
   * waiter whose signal has aborted is refused with a rejected promise.
   *
   * @example
   * ```ts
   * const turn = slots.acquire(0, signal); // high priority
   * if (turn === 'full') throw new RejectedError('QUEUE_FULL', 'too many waiting');
   * if (turn !== 'granted') await turn; // rejects with signal.reason on abort
   * try { await work(); } finally { slots.release(); }
   * ```
   */
  acquire(this: Limiter<Wake>, level: Level = 1, signal?: AbortSignal): 'granted' | 'full' | Promise<void> {
    if (this.active < this.capacity && this.queued === 0) {
      this.active++;
      return 'granted';
    }
    if (this.queued >= this.#maxQueue) return 'full';
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    return new Promise<void>((resolve, reject) => {
      const waiter: Wake = () => {
        unlisten();
        resolve();
      };
      const lane = this.#queues[level];
      const place = lane.push(waiter, this.#ticks);
      // a waiter that gives up leaves its place at once (O(1): many giving up together cost linear time)
      const unlisten = onAbort(signal, (reason) => {
        if (lane.leave(place)) reject(reason);
      });
    });
  }

  /** Takes a queued item out of the queue (e.g. its caller gave up); false when it was not waiting. */
  remove(item: T): boolean {
    return this.#queues[0].remove(item) || this.#queues[1].remove(item) || this.#queues[2].remove(item);
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

  #pick(): FairQueue<T> | undefined {
    const [high, normal, low] = this.#queues;
    // Aged waiters first, oldest first; then by priority.
    let aged: FairQueue<T> | undefined;
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
