/**
 * The engine's shared task limits: the global task slot and the named pools,
 * held across every run and topology of one engine.
 * @module
 */
import type { Limiter } from '../primitives/limiter.ts';
import type { FlowWeight } from '../primitives/fair-queue.ts';
import { resourceLimiter, type Acquire } from './resources.ts';

/**
 * The limiters of one engine.
 *
 * @example
 * ```ts
 * const limits = new Limits(64, { openai: 8 }, 16);
 * limits.pool('openai')?.capacity; // 8
 * ```
 */
export class Limits {
  /** Global task limiter, or undefined when unlimited. */
  readonly global: Limiter<Acquire> | undefined;
  /** A waiting task passed over this many grants is served next, whatever its priority. */
  readonly agingGrants: number;
  /** Share of each tenant among waiters of one priority (from the engine's guards), or equal shares. */
  readonly weight: FlowWeight | undefined;
  readonly #pools = new Map<string, Limiter<Acquire>>();

  constructor(concurrency: number | undefined, pools: Readonly<Record<string, number>>, agingGrants: number, weight?: FlowWeight) {
    this.agingGrants = agingGrants;
    this.weight = weight;
    this.global = concurrency === undefined ? undefined : resourceLimiter(concurrency, agingGrants, weight);
    for (const [name, size] of Object.entries(pools)) this.#pools.set(name, resourceLimiter(size, agingGrants, weight));
  }

  /** The pool named `name`, if the engine has one. */
  pool(name: string): Limiter<Acquire> | undefined {
    return this.#pools.get(name);
  }

  /** Names of the engine's pools. */
  poolNames(): readonly string[] {
    return [...this.#pools.keys()];
  }

  /**
   * What a task of `pools` holds while it works: its pools sorted by name (a fixed
   * order, so tasks never deadlock), then the global slot. Pools must exist.
   */
  taskResources(pools: readonly string[] | undefined): Limiter<Acquire>[] {
    const list = [...(pools ?? [])].sort().map((p) => this.#pools.get(p)!);
    if (this.global !== undefined) list.push(this.global);
    return list;
  }
}
