/**
 * Measurement helpers used inside a child process.
 * @module
 */
import { setImmediate as tick } from 'node:timers/promises';

const gcFn = (globalThis as { gc?: () => void }).gc;

/** Full GC, several passes with event-loop turns between (weak refs, finalizers). */
export async function fullGc(): Promise<void> {
  if (gcFn === undefined) throw new Error('run the benchmark child with --expose-gc');
  for (let k = 0; k < 4; k++) {
    gcFn();
    await tick();
  }
}

/** V8 heap in use, bytes. */
export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/** Live heap after a full GC, bytes. */
export async function liveHeap(): Promise<number> {
  await fullGc();
  return heapUsed();
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (yielding to the event loop) until `cond()` holds or `timeoutMs` passes. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  let spins = 0;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    // setImmediate turns first (fast), then back off to timers so I/O and timers run.
    if (++spins < 1000) await tick();
    else await sleep(1);
  }
}

/** A gate many runs can await; `open()` releases them all. */
export class Gate {
  readonly promise: Promise<void>;
  open!: () => void;
  constructor() {
    this.promise = new Promise<void>((resolve) => { this.open = resolve; });
  }
}

/**
 * Calls `once(i)` sequentially (awaiting each) until at least `minMs` elapsed
 * and `minIters` ran, or `maxIters` ran. Returns iterations and elapsed ms.
 */
export async function timedLoop(
  once: (i: number) => Promise<void>,
  limits: { readonly minMs: number; readonly minIters: number; readonly maxIters: number },
): Promise<{ iters: number; ms: number }> {
  const t0 = performance.now();
  let i = 0;
  let now = t0;
  while (i < limits.maxIters && (i < limits.minIters || now - t0 < limits.minMs)) {
    await once(i++);
    now = performance.now();
  }
  return { iters: i, ms: now - t0 };
}

/** Throws unless `actual === expected`. */
export function check(actual: unknown, expected: unknown, what: string): void {
  if (actual !== expected) throw new Error(`wrong answer for ${what}: got ${String(actual)}, expected ${String(expected)}`);
}
