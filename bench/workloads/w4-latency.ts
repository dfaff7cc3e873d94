/**
 * W4: per-run latency of W1 (p50, p99).
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { percentileSorted } from '../lib/stats.ts';
import { trivialChain } from './closures.ts';
import { ALL_SYSTEMS, loopBudget } from './common.ts';

const NODES = 10;

export const workload: Workload = {
  id: 'w4',
  title: 'Per-run latency of W1 (10-node trivial chain)',
  description: 'Sequential runs, each timed on its own with performance.now(); nearest-rank percentiles over every measured run.',
  metrics: [
    { name: 'p50_us', unit: 'µs', better: 'lower' },
    { name: 'p99_us', unit: 'µs', better: 'lower' },
    { name: 'samples', unit: 'runs', better: 'none', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'p99_us', op: '<=', value: 50, label: 'p99 ≤ 50 µs' }],
  systems: () => ALL_SYSTEMS,
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const run = ctx.system.chain(trivialChain(NODES), { maxInFlight: 1024 });
    const budget = loopBudget(ctx.mode);
    const max = budget.measure.maxIters;
    const lat = new Float64Array(max);
    const loop = async (limits: { minMs: number; minIters: number; maxIters: number }): Promise<number> => {
      const start = performance.now();
      let i = 0;
      for (; i < limits.maxIters && (i < limits.minIters || performance.now() - start < limits.minMs); i++) {
        const t0 = performance.now();
        const v = await run(i);
        lat[i] = performance.now() - t0;
        check(v, i + NODES, `run ${i}`);
      }
      return i;
    };
    await loop(budget.warm);
    const n = await loop(budget.measure);
    const sorted = lat.subarray(0, n).sort();
    return { p50_us: percentileSorted(sorted, 50) * 1000, p99_us: percentileSorted(sorted, 99) * 1000, samples: n };
  },
};
