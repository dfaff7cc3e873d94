/**
 * W15: the W1 chain, durable: every node's output stored before the next node runs.
 * Ours with the embedded SQLite store (`w15`) and with the PostgreSQL store (`w15p`),
 * against LangGraph.js with its SQLite / Postgres checkpointer and DBOS Transact
 * (one step per node) on the same Postgres. Overhead per node = durable − plain,
 * measured in the same process.
 * @module
 */
import type { Measurement, Mode, RunContext, SystemId, Target, Workload } from '../lib/types.ts';
import { check, timedLoop } from '../lib/measure.ts';
import { median } from '../lib/stats.ts';
import { durableSetup, skipWithoutPostgres } from '../systems/durable-common.ts';
import type { DurableBackend, RunFn } from '../systems/types.ts';
import { trivialChain } from './closures.ts';
import { loopBudget } from './common.ts';

const NODES = 10;

/** Runs at once in the concurrent measurement. */
export const concurrentRuns = (mode: Mode): number => (mode === 'quick' ? 100 : 1000);

/** µs per node of `rounds` rounds of `n` concurrent runs (median), every answer checked. */
async function concurrent(run: RunFn, n: number, rounds: number, base: number): Promise<number> {
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const out = await Promise.all(Array.from({ length: n }, (_, i) => run(base + r * n + i)));
    const ms = performance.now() - t0;
    out.forEach((v, i) => check(v, base + r * n + i + NODES, `concurrent run ${i}`));
    per.push((ms * 1000) / (n * NODES));
  }
  return median(per);
}

/** µs per node of sequential runs for the loop budget. */
async function sequential(run: RunFn, mode: Mode): Promise<number> {
  const once = async (i: number): Promise<void> => check(await run(i), i + NODES, `run ${i}`);
  const budget = loopBudget(mode);
  await timedLoop(once, { ...budget.warm, minIters: Math.min(budget.warm.minIters, 10) });
  const { iters, ms } = await timedLoop(once, budget.measure);
  return (ms * 1000) / (iters * NODES);
}

async function measure(ctx: RunContext, backend: DurableBackend): Promise<Measurement> {
  if (ctx.system.durableChain === undefined) throw new Error(`${ctx.system.id} has no durable chain`);
  const setup = await durableSetup(backend, 'w15', ctx.log);
  try {
    const chain = await ctx.system.durableChain(trivialChain(NODES), setup);
    try {
      const n = concurrentRuns(ctx.mode);
      const rounds = ctx.mode === 'quick' ? 1 : 3;
      const out: Measurement = {};
      // Warm-up of every path at the measured concurrency (compiled code, connections and caches as a
      // long-lived process has them), then the sequential and concurrent measurements.
      await concurrent(chain.run, n, 1, 1_000_000);
      if (chain.plain !== undefined) await concurrent(chain.plain, n, 1, 1_000_000);
      out['seq_us_per_node'] = await sequential(chain.run, ctx.mode);
      out['conc_us_per_node'] = await concurrent(chain.run, n, rounds, 2_000_000);
      if (chain.plain !== undefined) {
        out['seq_plain_us'] = await sequential(chain.plain, ctx.mode);
        out['conc_plain_us'] = await concurrent(chain.plain, n, rounds, 3_000_000);
        out['seq_overhead_us'] = out['seq_us_per_node'] - out['seq_plain_us'];
        out['conc_overhead_us'] = out['conc_us_per_node'] - out['conc_plain_us'];
      }
      ctx.log(Object.entries(out).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', '));
      return out;
    } finally {
      await chain.close();
    }
  } finally {
    await setup.drop();
  }
}

/**
 * W15 for one backend (`w15`: SQLite, `w15p`: Postgres).
 *
 * @example
 * ```ts
 * export const workload = durableChainWorkload('postgres');
 * ```
 */
export function durableChainWorkload(backend: DurableBackend): Workload {
  const pgPeers: readonly SystemId[] = ['llm-orchestrator', 'langgraph', 'dbos'];
  const peers: readonly SystemId[] = backend === 'sqlite' ? ['llm-orchestrator', 'langgraph'] : pgPeers;
  const overheadTarget = backend === 'sqlite' ? 10 : 50;
  const ratioTargets: Target[] = peers.filter((p) => p !== 'llm-orchestrator').flatMap((p): Target[] => [
    { kind: 'ratio', metric: 'seq_us_per_node', baseline: p, op: '<=', value: 1 / 20, label: `single chain ≥ 20× faster per step than ${p}` },
    { kind: 'ratio', metric: 'conc_us_per_node', baseline: p, op: '<=', value: 1 / 20, label: `1,000 runs ≥ 20× faster per step than ${p}` },
  ]);
  const store = backend === 'sqlite' ? 'embedded SQLite store (WAL, synchronous=NORMAL) / LangGraph `SqliteSaver`' : 'PostgreSQL store / LangGraph `PostgresSaver` / DBOS Transact, each on a fresh database of the same server';
  return {
    id: backend === 'sqlite' ? 'w15' : 'w15p',
    title: `Durable chain of 10 trivial nodes (${backend === 'sqlite' ? 'embedded SQLite' : 'PostgreSQL'})`,
    description: `The W1 chain with every node's output stored before the next node runs: ${store}. \`seq_\`: one run at a time (a commit per node); \`conc_\`: 1,000 concurrent runs (quick: 100), wall time ÷ nodes run (median of 3 rounds; quick: 1). Overhead = durable − the same system without a store, in the same process (DBOS has no such mode).`,
    metrics: [
      { name: 'seq_us_per_node', unit: 'µs', better: 'lower' },
      { name: 'conc_us_per_node', unit: 'µs', better: 'lower' },
      { name: 'seq_overhead_us', unit: 'µs', better: 'lower', ratio: false },
      { name: 'conc_overhead_us', unit: 'µs', better: 'lower', ratio: false },
      { name: 'seq_plain_us', unit: 'µs', better: 'lower', ratio: false },
      { name: 'conc_plain_us', unit: 'µs', better: 'lower', ratio: false },
    ],
    targets: [
      { kind: 'value', metric: 'conc_overhead_us', op: '<=', value: overheadTarget, label: `≤ ${overheadTarget} µs/node overhead (1,000 runs, group commit)` },
      ...ratioTargets,
    ],
    systems: () => peers,
    repsFor: (system, _mode, reps) => (system === 'llm-orchestrator' ? reps : Math.min(reps, 3)),
    ...(backend === 'postgres' ? { skip: skipWithoutPostgres } : {}),
    timeoutMs: (mode) => (mode === 'quick' ? 120_000 : 600_000),
    run: (ctx) => measure(ctx, backend),
  };
}

export const workload = durableChainWorkload('sqlite');
