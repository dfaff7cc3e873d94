/**
 * W2: 1 source → 50 parallel nodes → 1 join: µs per node.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { check, timedLoop } from '../lib/measure.ts';
import { fanBranches, fanExpected, fanJoin, fanSource } from './closures.ts';
import { ALL_SYSTEMS, loopBudget } from './common.ts';

const WIDTH = 50;
const NODES = WIDTH + 2;

export const workload: Workload = {
  id: 'w2',
  title: '1 source → 50 parallel nodes → 1 join, sequential runs',
  description: 'One run at a time; every node is a trivial async closure; time per node executed (52 nodes per run).',
  metrics: [
    { name: 'us_per_node', unit: 'µs', better: 'lower' },
    { name: 'runs_per_s', unit: 'runs/s', better: 'higher', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'us_per_node', op: '<=', value: 1, label: '≤ 1 µs/node' }],
  systems: () => ALL_SYSTEMS,
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const run = ctx.system.fan(fanSource, fanBranches(WIDTH), fanJoin, { maxInFlight: 1024 });
    const once = async (i: number): Promise<void> => check(await run(i), fanExpected(i, WIDTH), `run ${i}`);
    const budget = loopBudget(ctx.mode);
    await timedLoop(once, budget.warm);
    const { iters, ms } = await timedLoop(once, budget.measure);
    return { us_per_node: (ms * 1000) / (iters * NODES), runs_per_s: iters / (ms / 1000) };
  },
};
