/**
 * The hub's pending timeouts: waits between store reads and the expiry of ended runs'
 * rings, each unref'd (they never keep the process alive) and all cleared at once when
 * the hub closes.
 * @module
 */

/**
 * Timeouts tracked so that {@link HubTimers.clear} cancels every one still pending.
 *
 * @example
 * ```ts
 * const timers = new HubTimers();
 * timers.later(60_000, () => channels.delete(runId));
 * await timers.sleep(500);
 * timers.clear(); // on close: nothing fires after this
 * ```
 */
export class HubTimers {
  readonly #pending = new Set<ReturnType<typeof setTimeout>>();

  /** Runs `f` after `ms`, unless {@link HubTimers.clear} comes first. */
  later(ms: number, f: () => void): void {
    const t = setTimeout(() => { this.#pending.delete(t); f(); }, ms);
    t.unref?.();
    this.#pending.add(t);
  }

  /** Resolves after `ms`; never, when {@link HubTimers.clear} comes first. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => this.later(ms, resolve));
  }

  /** Cancels every pending timeout. */
  clear(): void {
    for (const t of this.#pending) clearTimeout(t);
    this.#pending.clear();
  }
}
