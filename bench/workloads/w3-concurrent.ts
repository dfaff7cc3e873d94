/**
 * W3: 10,000 concurrent runs of a 3-node chain, each node awaiting a 1 ms timer.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';
import { sleepInc } from './closures.ts';
import { ALL_SYSTEMS } from './common.ts';

/** Concurrent runs per round (quick mode: a smaller smoke size). */
const runsFor = (mode: string): number => (mode === 'quick' ? 1_000 : 10_000);

export const workload: Workload = {
  id: 'w3',
  title: '10,000 concurrent runs of a 3-node chain (1 ms timer per node; quick: 1,000)',
  description: 'All 10,000 runs (quick: 1,000) started at once, each node awaits `setTimeout(1)`; wall time until all are done. In each process: a 1,000-run (quick: 200) warm-up round, then rounds until ≥ 1 s has passed (at most 5, quick 2); the median round counts.',
  metrics: [
    { name: 'wall_ms', unit: 'ms', better: 'lower' },
    { name: 'runs_per_s', unit: 'runs/s', better: 'higher', ratio: false },
  ],
  targets: [{ kind: 'ratio', metric: 'wall_ms', baseline: 'rxjs', op: '<=', value: 1, label: 'wall no worse than raw RxJS' }],
  systems: () => ALL_SYSTEMS,
  // One LangGraph round of 10,000 runs takes ~30–40 s here: two repetitions keep the full run under 15 minutes.
  repsFor: (system, mode, reps) => (system === 'langgraph' && mode === 'full' ? Math.min(reps, 2) : reps),
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 120_000),
  async run(ctx) {
    const run = ctx.system.chain([sleepInc, sleepInc, sleepInc], { maxInFlight: 200_000 });
    const round = async (n: number): Promise<number> => {
      const t0 = performance.now();
      const out = await Promise.all(Array.from({ length: n }, (_, i) => run(i)));
      const ms = performance.now() - t0;
      for (let i = 0; i < n; i++) check(out[i], i + 3, `run ${i}`);
      return ms;
    };
    const RUNS = runsFor(ctx.mode);
    await round(ctx.mode === 'quick' ? 200 : 1000);
    const walls: number[] = [];
    const t0 = performance.now();
    const maxRounds = ctx.mode === 'quick' ? 2 : 5;
    while (walls.length < maxRounds && (walls.length === 0 || performance.now() - t0 < 1000)) walls.push(await round(RUNS));
    const wall = median(walls);
    return { wall_ms: wall, runs_per_s: RUNS / (wall / 1000) };
  },
};
