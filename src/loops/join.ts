/**
 * What a loop keeps of each ended run so feedback that arrives later can be joined to it:
 * a bounded cache of {@link RunInfo} (oldest evicted first) and a bounded set of the
 * feedback ids already counted (duplicates are refused).
 * @module
 */
import * as z from 'zod';
import type { RunSummary } from '../runtime/loop.ts';

/**
 * What feedback is joined to: the ended run's decision, models, cost and who it was for.
 *
 * @example
 * ```ts
 * const info: RunInfo = { runId: 'r1', topology: 'qa', variant: 'control', policyVersion: 2, models: { answer: 'sim:a' },
 *   arms: {}, costUsd: 0.001, tenant: null, user: 'u1', endedAt: Date.now(), input: { q: 'hi' } };
 * ```
 */
export interface RunInfo {
  readonly runId: string;
  readonly topology: string;
  /** `''` when the run had no variant. */
  readonly variant: string;
  /** 0 when the topology had no policy. */
  readonly policyVersion: number;
  /** The model that answered, by llm node id. */
  readonly models: Readonly<Record<string, string>>;
  /** Bandit choices by decision name (the llm node id): the arm taken. */
  readonly arms: Readonly<Record<string, string>>;
  readonly costUsd: number;
  readonly tenant: string | null;
  readonly user: string | null;
  /** Epoch ms. */
  readonly endedAt: number;
  /** The run input (the context of experience records): kept for runs with bandit arms only. */
  readonly input?: unknown;
}

/**
 * Schema of {@link RunInfo}: what a `lookup` (e.g. over a run store) must answer.
 *
 * @example
 * ```ts
 * RunInfoSchema.parse(await lookup('r1'));
 * ```
 */
export const RunInfoSchema = z.object({
  runId: z.string().min(1),
  topology: z.string().min(1),
  variant: z.string(),
  policyVersion: z.number().int().nonnegative(),
  models: z.record(z.string(), z.string()),
  arms: z.record(z.string(), z.string()),
  costUsd: z.number().finite().nonnegative(),
  tenant: z.string().nullable(),
  user: z.string().nullable(),
  endedAt: z.number().finite(),
  input: z.unknown().optional(),
});

const NO_ARMS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The run info of an ended run's summary (the input only for runs with bandit arms).
 *
 * @example
 * ```ts
 * cache.put(runInfoOf(summary));
 * ```
 */
export function runInfoOf(s: RunSummary): RunInfo {
  const d = s.decision;
  // one shape for every run (no spread): the cache holds many, so they stay small and alike
  return {
    runId: s.runId,
    topology: s.topology,
    variant: d?.variant ?? '',
    policyVersion: d?.policyVersion ?? 0,
    models: s.models,
    arms: d?.arms ?? NO_ARMS,
    costUsd: s.costUsd ?? s.usage?.costUsd ?? 0,
    tenant: s.tenant ?? null,
    user: s.user ?? null,
    endedAt: s.endedAt,
    // the input is the context of experience records: kept for bandit runs only (not retained for the others)
    input: d?.arms === undefined ? undefined : s.input,
  };
}

/**
 * The model a feedback message judges: the named node's model, else the run's only model,
 * else `''` (several models, or none).
 *
 * @example
 * ```ts
 * modelOf(info, 'answer'); // 'sim:a'
 * ```
 */
export function modelOf(info: RunInfo, nodeId: string | null | undefined): string {
  if (nodeId) return info.models[nodeId] ?? '';
  let only = '';
  for (const k in info.models) {
    if (only !== '') return '';
    only = info.models[k]!;
  }
  return only;
}

/**
 * The ended runs a loop remembers for joining feedback, at most `capacity` (the oldest forgotten
 * first). Remembering a run is one write into a ring: every run pays it. The index by run id is
 * built when feedback asks, from the runs remembered since the last question, so runs no
 * feedback ever judges (evaluation off, or sampled) cost no hashing; when every run is judged,
 * each run is indexed once, as a map would.
 *
 * @example
 * ```ts
 * const runs = new RunCache(100_000);
 * runs.add(runInfoOf(summary));
 * runs.get('r1')?.variant; // 'control'
 * ```
 */
export class RunCache {
  readonly #ring: (RunInfo | undefined)[] = [];
  readonly #capacity: number;
  /** Runs added so far: the next one goes to `#added % capacity`. */
  #added = 0;
  /** Runs added before this one are in the index (those still in the ring). */
  #indexed = 0;
  /** Run id → the position (count of runs added before it) of its latest entry. */
  readonly #index = new Map<string, number>();

  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  /** Runs remembered. */
  get size(): number {
    return Math.min(this.#added, this.#capacity);
  }

  /** Remembers a run (the same id again: the later entry wins). */
  add(info: RunInfo): void {
    const slot = this.#added % this.#capacity;
    const old = this.#ring[slot];
    // the entry pushed out leaves the index, unless its id was added again since
    if (old !== undefined && this.#added - this.#capacity < this.#indexed && this.#index.get(old.runId) === this.#added - this.#capacity) {
      this.#index.delete(old.runId);
    }
    this.#ring[slot] = info;
    this.#added++;
  }

  get(runId: string): RunInfo | undefined {
    const oldest = this.#added - this.size;
    for (let p = Math.max(this.#indexed, oldest); p < this.#added; p++) this.#index.set(this.#ring[p % this.#capacity]!.runId, p);
    this.#indexed = this.#added;
    const p = this.#index.get(runId);
    return p === undefined || p < oldest ? undefined : this.#ring[p % this.#capacity];
  }
}

/**
 * A map that keeps at most `capacity` entries, evicting the oldest inserted first (a key set
 * again keeps its place). The insertion order is a ring of keys, so eviction never iterates
 * the map (iterating a map from its start after many deletions skips their holes one by one).
 *
 * @example
 * ```ts
 * const cache = new BoundedMap<string, RunInfo>(100_000);
 * cache.set(info.runId, info);
 * ```
 */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>();
  readonly #ring: K[] = [];
  readonly #capacity: number;
  #next = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Sets a key; a new key past capacity evicts the oldest. */
  set(key: K, value: V): void {
    const size = this.#map.size;
    this.#map.set(key, value);
    if (this.#map.size === size) return; // a key set again: same place, new value (one lookup, not two)
    if (this.#ring.length < this.#capacity) this.#ring.push(key);
    else {
      this.#map.delete(this.#ring[this.#next]!);
      this.#ring[this.#next] = key;
      this.#next = (this.#next + 1) % this.#capacity;
    }
  }
}

/**
 * A set that keeps at most `capacity` members, forgetting the oldest added first.
 *
 * @example
 * ```ts
 * const seen = new BoundedSet<string>(100_000);
 * if (!seen.add(feedbackId)) console.log('duplicate');
 * ```
 */
export class BoundedSet<K> {
  readonly #map: BoundedMap<K, true>;

  constructor(capacity: number) {
    this.#map = new BoundedMap(capacity);
  }

  get size(): number {
    return this.#map.size;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Adds a member; false when it was there already. */
  add(key: K): boolean {
    if (this.#map.has(key)) return false;
    this.#map.set(key, true);
    return true;
  }
}
