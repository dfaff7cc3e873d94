/**
 * The waiting line of one priority level of a {@link Limiter}: FIFO within a flow (a
 * tenant), weighted fair between flows. Each flow with waiters holds a virtual "pass";
 * the flow with the lowest pass is served next and its pass grows by `1 / weight`, and a
 * flow that starts waiting joins at the current virtual time (start-time fair queuing,
 * as stride scheduling). So a tenant that floods the engine with 10,000 runs and one that
 * sends 100 share the slots by weight instead of the second waiting behind the first.
 * Items without a flow share the flow `''`; with one flow it is plain FIFO.
 * @module
 */

/** FIFO queue of items with the grant tick at which each was enqueued. */
export class Fifo<T> {
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
  /** Takes `item` out of the queue; false when it is not in it. */
  remove(item: T): boolean {
    const i = this.items.indexOf(item, this.head);
    if (i < 0) return false;
    this.items.splice(i, 1);
    this.ticks.splice(i, 1);
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.ticks.length = 0;
      this.head = 0;
    }
    return true;
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

/** One flow's waiters and its place in the fair order. */
interface Flow<T> {
  readonly key: string;
  readonly q: Fifo<T>;
  pass: number;
}

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
  /** Flows with waiters. */
  readonly #active: Flow<T>[] = [];
  readonly #weight: FlowWeight;
  #vtime = 0;
  #size = 0;

  constructor(weight: FlowWeight = EQUAL) {
    this.#weight = weight;
  }

  get size(): number {
    return this.#size;
  }

  push(item: T, tick: number, flow = ''): void {
    let f = this.#flows.get(flow);
    if (f === undefined) this.#flows.set(flow, (f = { key: flow, q: new Fifo<T>(), pass: 0 }));
    if (f.q.size === 0) {
      // a flow that starts waiting competes from now on, with no credit for the time it was idle
      if (f.pass < this.#vtime) f.pass = this.#vtime;
      this.#active.push(f);
    }
    f.q.push(item, tick);
    this.#size++;
  }

  /** The grant tick of the oldest waiter (for aging); the queue must not be empty. */
  peekTick(): number {
    const a = this.#active;
    let t = a[0]!.q.peekTick();
    for (let k = 1; k < a.length; k++) t = Math.min(t, a[k]!.q.peekTick());
    return t;
  }

  /** Takes the next waiter: the head of the flow with the lowest pass. The queue must not be empty. */
  shift(): T {
    const a = this.#active;
    let best = 0;
    for (let k = 1; k < a.length; k++) if (a[k]!.pass < a[best]!.pass) best = k;
    const f = a[best]!;
    const item = f.q.shift();
    this.#size--;
    this.#vtime = f.pass;
    const w = this.#weight(f.key);
    f.pass += 1 / (w > 0 && Number.isFinite(w) ? w : 1);
    if (f.q.size === 0) this.#retire(best);
    return item;
  }

  /** Takes `item` out of whichever flow holds it; false when it is not waiting. */
  remove(item: T): boolean {
    const a = this.#active;
    for (let k = 0; k < a.length; k++) {
      if (!a[k]!.q.remove(item)) continue;
      this.#size--;
      if (a[k]!.q.size === 0) this.#retire(k);
      return true;
    }
    return false;
  }

  /** Drops an emptied flow from the active list (and forgets it, so idle tenants cost nothing). */
  #retire(k: number): void {
    const a = this.#active;
    const f = a[k]!;
    a[k] = a[a.length - 1]!;
    a.pop();
    if (this.#flows.size > 64) this.#flows.delete(f.key);
  }
}
