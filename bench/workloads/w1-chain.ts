/**
 * W1: a chain of 10 trivial async nodes, many sequential runs: µs per node.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { check, timedLoop } from '../lib/measure.ts';
import { trivialChain } from './closures.ts';
import { ALL_SYSTEMS, loopBudget } from './common.ts';

const NODES = 10;

export const workload: Workload = {
  id: 'w1',
  title: 'Chain of 10 trivial async nodes, sequential runs',
  description: 'One run at a time through a 10-node chain whose nodes are `async (x) => x + 1`; time per node executed (orchestration overhead).',
  metrics: [
    { name: 'us_per_node', unit: 'µs', better: 'lower' },
    { name: 'runs_per_s', unit: 'runs/s', better: 'higher', ratio: false },
  ],
  targets: [
    { kind: 'value', metric: 'us_per_node', op: '<=', value: 1.5, label: '≤ 1.5 µs/node' },
    { kind: 'ratio', metric: 'us_per_node', baseline: 'langgraph', op: '<=', value: 1 / 250, label: '≥ 250× faster than LangGraph' },
  ],
  systems: () => ALL_SYSTEMS,
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const run = ctx.system.chain(trivialChain(NODES), { maxInFlight: 1024 });
    const once = async (i: number): Promise<void> => check(await run(i), i + NODES, `run ${i}`);
    const budget = loopBudget(ctx.mode);
    await timedLoop(once, budget.warm);
    const { iters, ms } = await timedLoop(once, budget.measure);
    return { us_per_node: (ms * 1000) / (iters * NODES), runs_per_s: iters / (ms / 1000) };
  },
};
