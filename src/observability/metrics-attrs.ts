/**
 * Attribute sets made once and reused: the metrics sink looks them up by a few string keys on
 * each event (map lookups, no allocation once seen), and bounds how many distinct values an
 * attribute can take so an unexpected source of names (tenants, error codes) cannot blow up
 * the number of series.
 * @module
 */
import { OTHER_VALUE } from './metric-names.ts';

/**
 * The distinct values one attribute has taken, up to a cap; past it, new values read as `_OTHER`.
 *
 * @example
 * ```ts
 * const tenants = new Vocabulary(2);
 * tenants.of('a'); tenants.of('b'); tenants.of('c'); // 'a', 'b', '_OTHER'
 * ```
 */
export class Vocabulary {
  readonly #seen = new Set<string>();
  readonly #cap: number;

  constructor(cap: number) {
    this.#cap = cap;
  }

  /** `value` itself when known or when there is room for it, else `_OTHER`. */
  of(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.#cap) return OTHER_VALUE;
    this.#seen.add(value);
    return value;
  }
}

/**
 * Builds the value stored under a key path (called once per distinct path).
 *
 * @example
 * ```ts
 * const make: Make<Attributes> = (topology, status) => ({ 'llmo.topology': topology, 'llmo.status': status });
 * ```
 */
export type Make<T> = (a: string, b: string, c: string, d: string) => T;

/**
 * Values (attribute sets) interned by a path of four string keys (`''` for a key not used).
 *
 * @example
 * ```ts
 * const sets = new AttrSets<Attributes>((topology, status) => ({ 'llmo.topology': topology, 'llmo.status': status }));
 * histogram.record(1.2, sets.get('rag', 'completed', '', ''));
 * ```
 */
export class AttrSets<T> {
  readonly #root = new Map<string, Map<string, Map<string, Map<string, T>>>>();
  readonly #make: Make<T>;

  constructor(make: Make<T>) {
    this.#make = make;
  }

  /** The value of a path, made on first use. */
  get(a: string, b: string, c: string, d: string): T {
    let m1 = this.#root.get(a);
    if (m1 === undefined) this.#root.set(a, (m1 = new Map()));
    let m2 = m1.get(b);
    if (m2 === undefined) m1.set(b, (m2 = new Map()));
    let m3 = m2.get(c);
    if (m3 === undefined) m2.set(c, (m3 = new Map()));
    let v = m3.get(d);
    if (v === undefined) m3.set(d, (v = this.#make(a, b, c, d)));
    return v;
  }
}
