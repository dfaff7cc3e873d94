/**
 * The ready queue: nodes whose parents have all settled, waiting to enter their
 * stage. One per engine, drained in a loop, so moving a run along a chain of any
 * length (synchronous nodes, skipped branches) never grows the call stack: a node
 * that settles while the queue is draining only appends its children.
 * @module
 */
import type { Run } from './run.ts';

/**
 * What the queue hands a ready node to: its compiled topology.
 *
 * @example
 * ```ts
 * const stages: Stages = { enter: (run, node) => inputs[node].next(run) };
 * ```
 */
export interface Stages {
  /** Node `node` of `run` is ready: start it (or skip it) unless the run ended. */
  enter(run: Run, node: number): void;
}

/**
 * A FIFO of (stages, run, node) entries in three parallel arrays (no object per entry).
 *
 * @example
 * ```ts
 * const ready = new ReadyQueue();
 * ready.push(compiled, run, childIndex); // runs it now, or after the entry being drained
 * ```
 */
export class ReadyQueue {
  readonly #stages: (Stages | undefined)[] = [];
  readonly #runs: (Run | undefined)[] = [];
  readonly #nodes: number[] = [];
  #head = 0;
  #tail = 0;
  #draining = false;

  /**
   * Starts a ready node now when nothing is being drained (then drains what it
   * made ready), else appends it to be started by the drain further up the stack.
   */
  push(stages: Stages, run: Run, node: number): void {
    if (this.#draining) {
      const t = this.#tail++;
      this.#stages[t] = stages;
      this.#runs[t] = run;
      this.#nodes[t] = node;
      return;
    }
    this.#draining = true;
    try {
      stages.enter(run, node);
      while (this.#head < this.#tail) {
        const k = this.#head++;
        const s = this.#stages[k]!;
        const r = this.#runs[k]!;
        const n = this.#nodes[k]!;
        this.#stages[k] = undefined;
        this.#runs[k] = undefined;
        // empty again: start over at 0, so a long chain keeps using the first slot
        if (this.#head === this.#tail) this.#head = this.#tail = 0;
        s.enter(r, n);
      }
    } finally {
      this.#draining = false;
    }
  }
}
