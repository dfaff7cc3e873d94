/**
 * How often this process was given each message of a consumption: a message
 * whose handling kills its member (e.g. blocks the event loop until the member
 * is expelled) comes back after every rejoin, and this count is what stops it.
 * Bounded: the least recently delivered entries go first, and a message is
 * forgotten once committed (Kafka) or done (memory, which never loses a commit).
 * @module
 */

/**
 * Default most entries a {@link DeliveryCounter} keeps.
 *
 * @example
 * ```ts
 * new DeliveryCounter(DEFAULT_DELIVERY_ENTRIES); // same as new DeliveryCounter()
 * ```
 */
export const DEFAULT_DELIVERY_ENTRIES = 10_000;

/**
 * Deliveries per (partition, offset) of one consumption (one topic, one group), in this process.
 *
 * @example
 * ```ts
 * const deliveries = new DeliveryCounter();
 * if (deliveries.count(0, '42') > maxDeliveries) await deadLetter('redelivered 5 times');
 * deliveries.forget(0, '42'); // committed
 * ```
 */
export class DeliveryCounter {
  readonly #counts = new Map<string, number>();
  readonly #max: number;

  constructor(maxEntries = DEFAULT_DELIVERY_ENTRIES) {
    this.#max = maxEntries;
  }

  /** Counts one more delivery of the message and returns how many there were, this one included. */
  count(partition: number, offset: string): number {
    const key = `${partition}/${offset}`;
    const n = (this.#counts.get(key) ?? 0) + 1;
    this.#counts.delete(key); // re-insert: Map order is the recency order
    this.#counts.set(key, n);
    if (this.#counts.size > this.#max) this.#counts.delete(this.#counts.keys().next().value!);
    return n;
  }

  /** Forgets a message (its offset was committed past). */
  forget(partition: number, offset: string): void {
    this.#counts.delete(`${partition}/${offset}`);
  }

  /** Messages counted now. */
  get size(): number {
    return this.#counts.size;
  }
}
