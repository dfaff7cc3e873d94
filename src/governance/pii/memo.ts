/**
 * A small bounded memo for the costly validators behind the detectors (libphonenumber's
 * validation, `isEmail`) and for hash redaction's HMAC: prompts repeat their values from call to
 * call (a conversation's history is sent again with every turn), and those checks are pure, so
 * an answer seen lately is reused instead of computed again. It holds at most `capacity`
 * entries and forgets the oldest first; it changes what a call costs, never what it answers.
 *
 * @example
 * ```ts
 * const valid = new BoundedMemo<string, boolean>(256);
 * const ok = valid.get(candidate) ?? valid.set(candidate, isEmail(candidate));
 * ```
 * @module
 */

/**
 * A map that keeps at most `capacity` entries, evicting the one set longest ago.
 *
 * @example
 * ```ts
 * const memo = new BoundedMemo<string, string>(2);
 * memo.set('a', 'A'); memo.set('b', 'B'); memo.set('c', 'C');
 * memo.get('a'); // undefined (evicted)
 * ```
 */
export class BoundedMemo<K, V> {
  readonly #map = new Map<K, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  /** The value remembered for `key`, if any. */
  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** Remembers `value` for `key` (evicting the oldest entry when full) and returns it. */
  set(key: K, value: V): V {
    if (this.#map.size >= this.#capacity && !this.#map.has(key)) {
      const oldest = this.#map.keys().next();
      if (oldest.done !== true) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
    return value;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
  }
}
