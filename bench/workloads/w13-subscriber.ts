/**
 * W13: what one subscriber on `engine.events$` costs a run. Production users
 * always subscribe (logs, traces, progress), so a run with a no-op subscriber
 * must cost at most twice a run without one.
 * @module
 */
import { createEngine, topology, type AnyTopology, type NodeContext, type TopologyBuilder } from '../../src/index.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';
import { inc } from './closures.ts';

const NODES = 10;

// The builder types track node ids; this chain is built in a loop, so it is typed loosely here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBuilder = TopologyBuilder<any, any>;
type Ctx = NodeContext<number, Record<string, number>>;

/** The W1 chain: `NODES` map nodes `async (x) => x + 1`. */
function chain(name: string): AnyTopology {
  let b: AnyBuilder = topology(name, { maxInFlight: 1024 });
  for (let k = 0; k < NODES; k++) {
    const prev = `n${k - 1}`;
    b = b.map(`n${k}`, k === 0 ? { run: (ctx: Ctx) => inc(ctx.input) } : { after: [prev], run: (ctx: Ctx) => inc(ctx.deps[prev]!) });
  }
  return b.build({ output: `n${NODES - 1}` });
}

/** µs per run over `n` sequential awaited runs of `run`. */
async function perRun(run: (i: number) => Promise<number>, n: number, what: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) check(await run(i), i + NODES, `${what} run ${i}`);
  return ((performance.now() - t0) * 1000) / n;
}

export const workload: Workload = {
  id: 'w13',
  title: 'Chain of 10 trivial async nodes with one no-op events$ subscriber',
  description: `One run at a time through the W1 chain (${NODES} map nodes \`async (x) => x + 1\`), on two engines in the same process: one without a subscriber on \`engine.events$\`, one with a single no-op subscriber (every lifecycle event is built and delivered). Alternating blocks of 2,000 runs (median over 15 blocks, quick: 5); \`ratio\` is subscribed ÷ unsubscribed. llm-orchestrator only (the bus is ours).`,
  metrics: [
    { name: 'us_per_run', unit: 'µs', better: 'lower', ratio: false },
    { name: 'us_per_run_subscribed', unit: 'µs', better: 'lower', ratio: false },
    { name: 'ratio', unit: '×', better: 'lower', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'ratio', op: '<=', value: 2, label: '≤ 2× with one subscriber' }],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w13 measures llm-orchestrator's event bus, not ${ctx.system.id}`);
    const runner = (subscribed: boolean): ((i: number) => Promise<number>) => {
      const engine = createEngine();
      if (subscribed) engine.events$.subscribe(() => undefined);
      const t = chain(subscribed ? 'w13-subscribed' : 'w13-quiet');
      return async (i) => {
        const r = await engine.run(t, i);
        if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
        return r.output as number;
      };
    };
    const variants: readonly [string, (i: number) => Promise<number>][] = [['quiet', runner(false)], ['subscribed', runner(true)]];
    const block = 2_000;
    const blocks = ctx.mode === 'quick' ? 5 : 15;
    const times = new Map<string, number[]>(variants.map(([k]) => [k, []]));
    for (const [k, f] of variants) await perRun(f, block, `warm-up ${k}`);
    for (let b = 0; b < blocks; b++) {
      // rotate the order so neither variant always follows the other's garbage
      for (let j = 0; j < variants.length; j++) {
        const [k, f] = variants[(b + j) % variants.length]!;
        times.get(k)!.push(await perRun(f, block, `${k} block ${b}`));
      }
    }
    const quiet = median(times.get('quiet')!);
    const subscribed = median(times.get('subscribed')!);
    ctx.log(`${quiet.toFixed(2)} µs/run without a subscriber, ${subscribed.toFixed(2)} µs/run with one`);
    return { us_per_run: quiet, us_per_run_subscribed: subscribed, ratio: subscribed / quiet };
  },
};
