/**
 * Where each run this store wrote stands: its integer key and last seq, so appending node
 * events needs no read of the run (and no write of its row). A miss, or a seq that does not
 * follow on, is read from the file; so the cache only ever saves a read. Two writers on one
 * run (another process after a lease was lost) are still caught: both append from the same
 * durable seq, so their first rows take the same `(run_key, seq)` key and the second commit
 * fails as `SEQ_CONFLICT`.
 * @module
 */

/**
 * A run's key and last seq, as this store last committed them.
 *
 * @example
 * ```ts
 * const head: RunHead = { key: 7, seq: 3 };
 * ```
 */
export interface RunHead {
  readonly key: number;
  readonly seq: number;
}

/**
 * What one commit did to a run's head: its new last seq, or `forget` (the run ended or parked:
 * whoever appends next reads it).
 *
 * @example
 * ```ts
 * const change: HeadChange = { runId: 'r1', key: 7, seq: 4, forget: false };
 * ```
 */
export interface HeadChange {
  readonly runId: string;
  readonly key: number;
  readonly seq: number;
  readonly forget: boolean;
}

/**
 * The heads of the runs a store is writing, at most `capacity` (past it, the cache starts over:
 * a run it forgot costs one read on its next append).
 *
 * @example
 * ```ts
 * const heads = new RunHeads(100_000);
 * heads.apply(changes); // after the commit
 * heads.get('r1');      // { key: 7, seq: 4 }
 * ```
 */
export class RunHeads {
  readonly #heads = new Map<string, RunHead>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  get(runId: string): RunHead | undefined {
    return this.#heads.get(runId);
  }

  /** Records what a committed batch did (never before the commit: a rolled-back batch changed nothing). */
  apply(changes: readonly HeadChange[]): void {
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i]!;
      if (c.forget) {
        this.#heads.delete(c.runId);
        continue;
      }
      if (this.#heads.size >= this.#capacity && !this.#heads.has(c.runId)) this.#heads.clear();
      this.#heads.set(c.runId, { key: c.key, seq: c.seq });
    }
  }

  /** Forgets every run (runs were deleted). */
  clear(): void {
    this.#heads.clear();
  }
}
