/**
 * W7: compile time of a 100-node topology.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';
import { trivialChain } from './closures.ts';

const NODES = 100;

export const workload: Workload = {
  id: 'w7',
  title: 'Compile a 100-node topology (chain)',
  description: '`compile_us`: compile an already-defined 100-node chain (llm-orchestrator: `engine.compile(t)` on a fresh engine; LangGraph: `StateGraph.compile()`; Mastra: `workflow.commit()`). `define_compile_us`: define (and validate) plus compile, from scratch. Median over iterations; hand-written baselines have no such step.',
  metrics: [
    { name: 'compile_us', unit: 'µs', better: 'lower' },
    { name: 'define_compile_us', unit: 'µs', better: 'lower' },
  ],
  targets: [{ kind: 'value', metric: 'compile_us', op: '<', value: 1000, label: '< 1 ms' }],
  systems: () => ['llm-orchestrator', 'langgraph', 'mastra'],
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const definer = ctx.system.definer;
    if (definer === undefined) throw new Error(`${ctx.system.id} has no definition step`);
    const fns = trivialChain(NODES);
    const minMs = ctx.mode === 'quick' ? 300 : 1500;
    // Two separate loops, so that one kind of measurement never pays for the
    // other's garbage.
    const loop = async (what: 'compile' | 'both', warm: boolean): Promise<number[]> => {
      const times: number[] = [];
      const start = performance.now();
      const iters = warm ? 5 : 10;
      while (times.length < 500 && (times.length < iters || performance.now() - start < (warm ? minMs / 4 : minMs / 2))) {
        const env = definer.setup();
        let run;
        if (what === 'compile') {
          const d = definer.define(fns, env);
          const t0 = performance.now();
          run = definer.compile(d, env);
          times.push((performance.now() - t0) * 1000);
        } else {
          const t0 = performance.now();
          run = definer.compile(definer.define(fns, env), env);
          times.push((performance.now() - t0) * 1000);
        }
        if (times.length === 1) check(await run(0), NODES, 'compiled 100-node chain');
      }
      return times;
    };
    await loop('compile', true);
    await loop('both', true);
    const compile = await loop('compile', false);
    const both = await loop('both', false);
    return { compile_us: median(compile), define_compile_us: median(both) };
  },
};
