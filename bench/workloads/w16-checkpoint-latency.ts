/**
 * W16: checkpoint latency of durable runs at 1,000 concurrent runs: from a node's
 * completion until the next node starts, which the engine allows only once the
 * completed node's event is durable. Ours only, embedded (`w16`) and Postgres (`w16p`).
 * @module
 */
import { createEngine } from '../../src/index.ts';
import type { Measurement, RunContext, Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { percentileSorted } from '../lib/stats.ts';
import { durableSetup, skipWithoutPostgres } from '../systems/durable-common.ts';
import { chainTopology } from '../systems/llm-orchestrator-chain.ts';
import { durableRunner, openBenchStore } from '../systems/llm-orchestrator-durable.ts';
import type { DurableBackend, NodeFn } from '../systems/types.ts';

const NODES = 10;
/** Inputs are run × STRIDE, so a node knows its run and position from its input. */
const STRIDE = 100;
/** Rounds before the measured ones (the first of them is the cold round). */
const WARM_ROUNDS = { quick: 1, full: 3 } as const;

/** A chain whose nodes stamp when they start and when they return, per (run, node). */
function stampedChain(start: Float64Array, done: Float64Array): NodeFn[] {
  return Array.from({ length: NODES }, (_, k): NodeFn => async (x) => {
    const slot = Math.floor(x / STRIDE) * NODES + k;
    start[slot] = performance.now();
    const y = x + 1;
    done[slot] = performance.now();
    return y;
  });
}

/** Completion → next start gaps (ms) of `runs` concurrent runs, over `rounds` rounds. */
async function gaps(run: (input: number) => Promise<number>, start: Float64Array, done: Float64Array, runs: number, rounds: number): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    start.fill(0);
    done.fill(0);
    const results = await Promise.all(Array.from({ length: runs }, (_, i) => run(i * STRIDE)));
    results.forEach((v, i) => check(v, i * STRIDE + NODES, `run ${i}`));
    for (let i = 0; i < runs; i++) {
      for (let k = 1; k < NODES; k++) out.push(start[i * NODES + k]! - done[i * NODES + k - 1]!);
    }
  }
  return out;
}

async function measure(ctx: RunContext, backend: DurableBackend): Promise<Measurement> {
  const runs = ctx.mode === 'quick' ? 100 : 1000;
  const rounds = ctx.mode === 'quick' ? 1 : 3;
  const start = new Float64Array(runs * NODES);
  const done = new Float64Array(runs * NODES);
  const fns = stampedChain(start, done);
  const setup = await durableSetup(backend, 'w16', ctx.log);
  try {
    const store = await openBenchStore(setup);
    const engine = createEngine({ store });
    const plainEngine = createEngine();
    try {
      const durable = durableRunner(engine, chainTopology(fns, 1024));
      const plain = durableRunner(plainEngine, chainTopology(fns, 1024));
      // The first round of a fresh process on a fresh database: reported apart (cold_p99_ms).
      const cold = (await gaps(durable, start, done, runs, 1)).sort((a, b) => a - b);
      // Warm-up at the measured concurrency until compiled code, the store's connections, plans and
      // tables are as a long-lived process has them: one round is not enough (the next round's p99 was
      // still 1.1–1.6× the later rounds' in 8 runs), the same budget as the other workloads' warm-ups.
      for (let w = 1; w < WARM_ROUNDS[ctx.mode]; w++) await gaps(durable, start, done, runs, 1);
      await gaps(plain, start, done, runs, 1);
      const d = (await gaps(durable, start, done, runs, rounds)).sort((a, b) => a - b);
      const p = (await gaps(plain, start, done, runs, rounds)).sort((a, b) => a - b);
      const out: Measurement = {
        p50_ms: percentileSorted(d, 50), p99_ms: percentileSorted(d, 99), max_ms: d[d.length - 1]!,
        cold_p99_ms: percentileSorted(cold, 99),
        plain_p50_ms: percentileSorted(p, 50), plain_p99_ms: percentileSorted(p, 99),
      };
      ctx.log(`${d.length} gaps: ${Object.entries(out).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
      return out;
    } finally {
      await plainEngine.shutdown();
      await engine.shutdown();
      await store.close();
    }
  } finally {
    await setup.drop();
  }
}

/**
 * W16 for one backend (`w16`: SQLite, `w16p`: Postgres).
 *
 * @example
 * ```ts
 * export const workload = checkpointLatencyWorkload('postgres');
 * ```
 */
export function checkpointLatencyWorkload(backend: DurableBackend): Workload {
  const embedded = backend === 'sqlite';
  return {
    id: embedded ? 'w16' : 'w16p',
    title: `Checkpoint latency at 1,000 concurrent durable runs (${embedded ? 'embedded SQLite' : 'PostgreSQL'})`,
    description: `1,000 concurrent runs (quick: 100) of a 10-node chain on ${embedded ? 'the embedded SQLite store' : 'the PostgreSQL store'}; each node stamps when it starts and returns. Latency = next node's start − this node's return: the next node starts only once this node's \`node.completed\` is durable, so this is completion → durable (+ the engine's hop, shown by \`plain_\`: the same engine without a store). 9 gaps per run, 3 rounds (quick: 1) after 3 warm-up rounds (quick: 1); \`cold_p99_ms\` is the p99 of the first warm-up round, a fresh process on a fresh database.`,
    metrics: [
      { name: 'p50_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'p99_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'max_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'cold_p99_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'plain_p50_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'plain_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    ],
    targets: [
      { kind: 'value', metric: 'p99_ms', op: '<', value: 100, label: 'p99 < 100 ms (requirement)' },
      ...(embedded ? [{ kind: 'value' as const, metric: 'p99_ms', op: '<' as const, value: 2, label: 'p99 < 2 ms (target)' }] : []),
    ],
    systems: () => ['llm-orchestrator'],
    ...(embedded ? {} : { skip: skipWithoutPostgres }),
    timeoutMs: (mode) => (mode === 'quick' ? 60_000 : 180_000),
    run: (ctx) => measure(ctx, backend),
  };
}

export const workload = checkpointLatencyWorkload('sqlite');
