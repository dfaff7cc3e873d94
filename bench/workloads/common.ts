/**
 * Pieces shared by several workloads.
 * @module
 */
import type { Measurement, Mode, RunContext, SystemId } from '../lib/types.ts';
import { check, Gate, heapUsed, liveHeap, waitUntil } from '../lib/measure.ts';
import { gated, inc } from './closures.ts';

/** The systems that run DAGs (every system but the raw Kafka client). */
export const ALL_SYSTEMS: readonly SystemId[] = ['llm-orchestrator', 'rxjs', 'promise', 'langgraph', 'mastra'];

/** Warm-up and measuring budgets of time-bounded sequential loops. */
export const loopBudget = (mode: Mode): { warm: { minMs: number; minIters: number; maxIters: number }; measure: { minMs: number; minIters: number; maxIters: number } } =>
  mode === 'quick'
    ? { warm: { minMs: 100, minIters: 5, maxIters: 100_000 }, measure: { minMs: 300, minIters: 10, maxIters: 1_000_000 } }
    : { warm: { minMs: 500, minIters: 20, maxIters: 300_000 }, measure: { minMs: 1500, minIters: 30, maxIters: 3_000_000 } };

/**
 * Parks `n` runs of a 3-node chain in flight (node 1 awaits a gate), measures
 * the live heap per parked run after a forced GC, then releases and checks them.
 */
export async function parkedRuns(ctx: RunContext, n: number): Promise<Measurement> {
  let gate = new Gate();
  gate.open();
  const arrived = { n: 0 };
  const run = ctx.system.chain([gated(() => gate, arrived), inc, inc], { maxInFlight: 200_000 });
  // Warm-up through the same path with the gate open.
  for (let k = 0; k < 4; k++) {
    const warm = await Promise.all(Array.from({ length: 250 }, (_, i) => run(i)));
    warm.forEach((v, i) => check(v, i + 3, 'warm-up run'));
  }
  gate = new Gate();
  arrived.n = 0;
  const runs = new Array<Promise<number>>(n).fill(Promise.resolve(0));
  const before = await liveHeap();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) runs[i] = run(i);
  await waitUntil(() => arrived.n === n, 600_000, `${n} runs to park`);
  const parkMs = performance.now() - t0;
  const peak = heapUsed();
  const parked = await liveHeap();
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  ctx.log(`parked ${n} runs in ${parkMs.toFixed(0)} ms; live heap +${((parked - before) / 2 ** 20).toFixed(1)} MB`);
  gate.open();
  const out = await Promise.all(runs);
  for (let i = 0; i < n; i++) check(out[i], i + 3, `parked run ${i}`);
  return {
    kb_per_run: (parked - before) / n / 1024,
    park_ms: parkMs,
    peak_heap_mb: peak / 2 ** 20,
    rss_mb: rssMb,
  };
}
