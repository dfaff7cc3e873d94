/**
 * W24: fair admission with many tenants. A burst of runs queues behind a full engine; the
 * waiters are served weighted-fair between tenants. With one tenant that is a FIFO; with
 * 10,000 tenants waiting at once, serving must not cost more per run (a queue that scans
 * every tenant per grant costs O(tenants) per run).
 * @module
 */
import { z } from 'zod';
import { createEngine, topology, type AnyTopology } from '../../src/index.ts';
import type { Workload } from '../lib/types.ts';
import { median } from '../lib/stats.ts';
import { cpuUs } from '../lib/cpu.ts';

const MANY = 10_000;

function quick(): AnyTopology {
  return topology('w24', { input: z.object({ n: z.number() }), maxInFlight: 64 })
    .map('one', { run: async ({ input }) => input.n + 1 })
    .build({ output: 'one' });
}

/** CPU µs per run of a burst of `runs` runs over `tenants` tenants (all submitted at once, most of them queued). */
async function burst(t: AnyTopology, runs: number, tenants: number): Promise<number> {
  const engine = createEngine();
  const c0 = cpuUs();
  const out = await Promise.all(Array.from({ length: runs }, (_, i) => engine.run(t, { n: i }, { tenant: `t${i % tenants}` })));
  const us = (cpuUs() - c0) / runs;
  for (let i = 0; i < runs; i++) if (out[i]!.status !== 'completed' || out[i]!.output !== i + 1) throw new Error(`run ${i}: ${out[i]!.status}`);
  await engine.shutdown();
  return us;
}

export const workload: Workload = {
  id: 'w24',
  title: 'Fair admission: a burst queued over 10,000 tenants vs one tenant',
  description: `A one-node topology (an async map, \`maxInFlight\` 64) gets a burst of 20,000 runs at once (quick: 5,000), so nearly all of them queue for admission; the runs belong to one tenant (a FIFO: the baseline) or are spread over ${MANY.toLocaleString('en-US')} tenants (served weighted-fair, every tenant waiting at once). CPU time of the process per run, from the burst's submission until every run completed; alternating bursts, median of 7 (quick: 3). \`ratio\` = many ÷ one. llm-orchestrator only.`,
  metrics: [
    { name: 'one_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'many_us', unit: 'CPU µs/run', better: 'lower', ratio: false },
    { name: 'ratio', unit: '×', better: 'lower', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'ratio', op: '<=', value: 1.5, label: `${MANY.toLocaleString('en-US')} tenants waiting cost ≤ 1.5× one per run` }],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 180_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w24 measures llm-orchestrator's admission, not ${ctx.system.id}`);
    const t = quick();
    const runs = ctx.mode === 'quick' ? 5_000 : 20_000;
    const reps = ctx.mode === 'quick' ? 3 : 7;
    await burst(t, runs, 1);
    await burst(t, runs, MANY);
    const one: number[] = [];
    const many: number[] = [];
    for (let r = 0; r < reps; r++) {
      if (r % 2 === 0) {
        one.push(await burst(t, runs, 1));
        many.push(await burst(t, runs, MANY));
      } else {
        many.push(await burst(t, runs, MANY));
        one.push(await burst(t, runs, 1));
      }
    }
    const a = median(one);
    const b = median(many);
    ctx.log(`${a.toFixed(2)} µs/run with one tenant, ${b.toFixed(2)} with ${MANY} tenants waiting`);
    return { one_us: a, many_us: b, ratio: b / a };
  },
};
