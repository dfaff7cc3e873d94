/**
 * The waiting line of one priority level of a {@link Limiter}: FIFO within a flow (a
 * tenant), weighted fair between flows. Each flow with waiters holds a virtual "pass";
 * the flow with the lowest pass is served next (of equal passes, the one that waited longest
 * for its turn) and its pass grows by `1 / weight`, and a flow that starts waiting joins at
 * the current virtual time (start-time fair queuing, as stride scheduling). The flows are
 * kept in a binary heap by pass and the oldest waiter is the first of the arrival order still
 * waiting (a heap by tick once ticks come out of order), so serving and aging cost O(log n)
 * however many tenants wait; a waiter that gives up leaves in O(1). So a tenant that floods the engine with 10,000 runs and one that
 * sends 100 share the slots by weight instead of the second waiting behind the first.
 * Items without a flow share the flow `''`; with one flow it is plain FIFO.
 * @module
 */

import TinyQueue from 'tinyqueue';

/** A line of waiters in arrival order; those that left stay in place until they reach the head or the line is rebuilt. */
class Line<W extends { readonly gone: boolean }> {
  items: (W | undefined)[] = [];
  head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(w: W): void {
    this.items.push(w);
  }
  peek(): W {
    return this.items[this.head]!;
  }
  shift(): W {
    const w = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return w;
  }
  /** Drops the waiters that left from its head. */
  trim(): void {
    while (this.size > 0 && this.peek().gone) this.shift();
  }
  /** The waiters still waiting, in order. */
  waiting(): W[] {
    const out: W[] = [];
    for (let i = this.head; i < this.items.length; i++) if (!this.items[i]!.gone) out.push(this.items[i]!);
    return out;
  }
  /** The same line without the waiters that left. */
  live(): Line<W> {
    const out = new Line<W>();
    out.items = this.waiting();
    return out;
  }
}

/**
 * A waiter's place in a {@link FairQueue} (what `push` answers), for `leave`.
 *
 * @example
 * ```ts
 * const place: Queued = lane.push(wake, tick, 'acme');
 * lane.leave(place); // it gave up
 * ```
 */
export interface Queued {
  readonly gone: boolean;
}

/** A waiting item: its queue and flow, its grant tick, and whether it has left (served or removed: then skipped where it still stands). */
interface Waiter<T> extends Queued {
  readonly queue: FairQueue<T>;
  readonly item: T;
  readonly flow: Flow<T>;
  readonly tick: number;
  /** Order of arrival (ties of ticks). */
  readonly n: number;
  gone: boolean;
}

/** One flow's waiters and its place in the fair order. */
interface Flow<T> {
  readonly key: string;
  /** Its waiters in order, with those removed since still in place (skipped). */
  q: Line<Waiter<T>>;
  /** Waiters still waiting. */
  live: number;
  pass: number;
  /** Bumped whenever the flow leaves the order, so its stale entries there are skipped. */
  gen: number;
}

/** A flow's turn in the fair order: lowest pass first, then the one that waited longest for it (reused while the flow waits). */
interface Turn<T> {
  readonly f: Flow<T>;
  pass: number;
  n: number;
  readonly gen: number;
}

const byTurn = <T>(a: Turn<T>, b: Turn<T>): number => a.pass - b.pass || a.n - b.n;
const byTick = <T>(a: Waiter<T>, b: Waiter<T>): number => a.tick - b.tick || a.n - b.n;

/**
 * A flow's share relative to the others (1 by default). Read when the flow is served, so a
 * policy can change weights while items wait.
 *
 * @example
 * ```ts
 * const weight: FlowWeight = (tenant) => (tenant === 'gold' ? 4 : 1);
 * ```
 */
export type FlowWeight = (flow: string) => number;

const EQUAL: FlowWeight = () => 1;

/**
 * The waiting line of one priority level: FIFO per flow, weighted fair across flows.
 *
 * @example
 * ```ts
 * const lane = new FairQueue<string>();
 * lane.push('a1', 0, 'A'); lane.push('a2', 0, 'A'); lane.push('b1', 0, 'B');
 * lane.shift(); lane.shift(); // 'a1', 'b1'
 * ```
 */
export class FairQueue<T> {
  readonly #flows = new Map<string, Flow<T>>();
  /** Flows with waiters, by turn (a binary heap; entries of flows that left since are skipped). */
  #turns = new TinyQueue<Turn<T>>([], byTurn);
  /**
   * Waiters in arrival order (those gone are skipped), for {@link FairQueue.peekTick} while
   * ticks only grow (a limiter's do): the oldest waiter is then the first still waiting.
   */
  #order = new Line<Waiter<T>>();
  #lastTick = Number.NEGATIVE_INFINITY;
  /** Waiters by tick (a binary heap; those gone are skipped), once a tick came lower than one before it. */
  #ticks: TinyQueue<Waiter<T>> | undefined;
  /** Flows with waiters. */
  #active = 0;
  readonly #weight: FlowWeight;
  #vtime = 0;
  #size = 0;
  #n = 0;

  constructor(weight: FlowWeight = EQUAL) {
    this.#weight = weight;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Queues `item` in `flow`, granted at `tick`. Answers its place: {@link FairQueue.leave}
   * takes it out in O(1) (a waiter that gives up).
   */
  push(item: T, tick: number, flow = ''): Queued {
    let f = this.#flows.get(flow);
    if (f === undefined) this.#flows.set(flow, (f = { key: flow, q: new Line<Waiter<T>>(), live: 0, pass: 0, gen: 0 }));
    if (f.live === 0) {
      // a flow that starts waiting competes from now on, with no credit for the time it was idle
      if (f.pass < this.#vtime) f.pass = this.#vtime;
      this.#active++;
      this.#turns.push({ f, pass: f.pass, n: ++this.#n, gen: f.gen });
    }
    const w: Waiter<T> = { queue: this, item, flow: f, tick, n: ++this.#n, gone: false };
    f.q.push(w);
    f.live++;
    if (this.#ticks !== undefined) this.#ticks.push(w);
    else if (tick >= this.#lastTick) {
      this.#lastTick = tick;
      this.#order.push(w);
    } else {
      this.#ticks = new TinyQueue([...this.#order.waiting(), w], byTick);
      this.#order = new Line();
    }
    this.#size++;
    return w;
  }

  /** The grant tick of the oldest waiter (for aging); the queue must not be empty. */
  peekTick(): number {
    const t = this.#ticks;
    if (t === undefined) {
      this.#order.trim();
      return this.#order.peek().tick;
    }
    while (t.peek()!.gone) t.pop();
    return t.peek()!.tick;
  }

  /** Takes the next waiter: the head of the flow with the lowest pass. The queue must not be empty. */
  shift(): T {
    let turn = this.#turns.pop()!;
    while (turn.gen !== turn.f.gen) turn = this.#turns.pop()!;
    const f = turn.f;
    let w = f.q.shift();
    while (w.gone) w = f.q.shift();
    this.#leave(w);
    this.#vtime = f.pass;
    const weight = this.#weight(f.key);
    f.pass += 1 / (weight > 0 && Number.isFinite(weight) ? weight : 1);
    if (f.live === 0) this.#retire(f);
    else {
      // popped, so not in the heap: the same turn goes back with the new pass
      turn.pass = f.pass;
      turn.n = ++this.#n;
      this.#turns.push(turn);
    }
    this.#compact();
    return w.item;
  }

  /** Takes `item` out of the queue (a scan: prefer {@link FairQueue.leave} with the place `push` answered); false when it is not waiting. */
  remove(item: T): boolean {
    for (const f of this.#flows.values()) {
      const q = f.q;
      for (let i = q.head; i < q.items.length; i++) {
        const w = q.items[i]!;
        if (w.item === item && !w.gone) return this.leave(w);
      }
    }
    return false;
  }

  /** Takes the waiter `push` placed at `place` out of the queue, in O(1) (it is skipped where it stands); false when it is not waiting. */
  leave(place: Queued): boolean {
    const w = place as Waiter<T>;
    if (w.gone || w.queue !== this) return false;
    this.#leave(w);
    const f = w.flow;
    if (f.live === 0) this.#retire(f);
    else if (f.q.size > 2 * f.live + 64) f.q = f.q.live();
    this.#compact();
    return true;
  }

  /** A waiter leaves (served or removed). */
  #leave(w: Waiter<T>): void {
    w.gone = true;
    w.flow.live--;
    this.#size--;
  }

  /** An emptied flow leaves the order (and is forgotten past 64 flows, so idle tenants cost nothing). */
  #retire(f: Flow<T>): void {
    f.gen++;
    if (f.q.size > 0) f.q = new Line(); // only waiters that gave up are left in it
    this.#active--;
    if (this.#flows.size > 64) this.#flows.delete(f.key);
  }

  /**
   * Lets go of waiters that left (served or removed): the arrival order's head at once, and
   * whatever the heaps or the order hold past their head once it outweighs what is live, so
   * nothing served stays referenced (amortized O(1) per waiter).
   */
  #compact(): void {
    this.#order.trim();
    if (this.#ticks !== undefined) {
      if (this.#ticks.length > 2 * this.#size + 64) this.#ticks = new TinyQueue(this.#ticks.data.filter((w) => !w.gone), byTick);
    } else if (this.#order.size > 2 * this.#size + 64) this.#order = this.#order.live();
    if (this.#turns.length > 2 * this.#active + 64) this.#turns = new TinyQueue(this.#turns.data.filter((t) => t.gen === t.f.gen), byTurn);
  }
}
