/**
 * W17: recovery of 10,000 interrupted durable runs: time from `engine.recover()` until
 * every run runs again, and until every run completed. Ours only, embedded (`w17`) and
 * Postgres (`w17p`).
 * @module
 */
import { firstValueFrom, toArray } from 'rxjs';
import { createEngine } from '../../src/index.ts';
import type { Measurement, RunContext, Workload } from '../lib/types.ts';
import { check, Gate, waitUntil } from '../lib/measure.ts';
import { durableSetup, skipWithoutPostgres } from '../systems/durable-common.ts';
import { chainTopology } from '../systems/llm-orchestrator-chain.ts';
import { openBenchStore } from '../systems/llm-orchestrator-durable.ts';
import type { DurableBackend, NodeFn } from '../systems/types.ts';

const NODES = 10;
/** The node the first engine's runs are stuck in (0-based): nodes before it are completed and stored. */
const STUCK = 5;

async function measure(ctx: RunContext, backend: DurableBackend): Promise<Measurement> {
  const runs = ctx.mode === 'quick' ? 1000 : 10_000;
  const gate = new Gate();
  let arrived = 0;
  let stuck = true;
  const fns: NodeFn[] = Array.from({ length: NODES }, (_, k): NodeFn => (k !== STUCK ? async (x) => x + 1 : async (x) => {
    arrived++;
    if (stuck) await gate.promise; // the first engine's runs never get past here
    return x + 1;
  }));
  // One definition for both engines: the recovered runs' recorded version is the one the second engine has.
  const t = chainTopology(fns, runs);
  const setup = await durableSetup(backend, 'w17', ctx.log);
  try {
    const store = await openBenchStore(setup);
    try {
      // 1. An engine starts every run; each stops in node STUCK (its upstream stored), then the
      //    engine is abandoned: shut down without finishing them (left to be recovered, leases released).
      const first = createEngine({ store });
      const t0 = performance.now();
      const abandoned = Array.from({ length: runs }, (_, i) => first.run(t, i));
      await waitUntil(() => arrived === runs, 300_000, `${runs} runs to reach node ${STUCK}`);
      await first.shutdown({ mode: 'cancel' });
      void Promise.all(abandoned); // they end as cancelled here; their stored state is left as it was
      ctx.log(`${runs} runs interrupted in ${(performance.now() - t0).toFixed(0)} ms`);
      // 2. A fresh engine recovers them: timed.
      stuck = false;
      arrived = 0;
      const second = createEngine({ store, topologies: [t] });
      const r0 = performance.now();
      const report = await second.recover({ limit: runs });
      const relaunchedMs = performance.now() - r0;
      await waitUntil(() => arrived === runs, 300_000, `${runs} recovered runs to run node ${STUCK} again`);
      const runningMs = performance.now() - r0;
      const results = await firstValueFrom(report.results.pipe(toArray()));
      const completedMs = performance.now() - r0;
      check(report.resumed.length, runs, 'runs resumed');
      check(report.failed.length, 0, 'runs that failed to resume');
      check(results.length, runs, 'recovered results');
      for (const r of results) {
        if (r.status !== 'completed') throw new Error(`recovered run ${r.runId} ${r.status}: ${r.error?.message}`);
      }
      const outputs = new Set(results.map((r) => r.output as number));
      for (let i = 0; i < runs; i++) if (!outputs.has(i + NODES)) throw new Error(`no recovered run returned ${i + NODES}`);
      await second.shutdown();
      const out: Measurement = { relaunched_ms: relaunchedMs, running_ms: runningMs, completed_ms: completedMs, runs };
      ctx.log(Object.entries(out).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', '));
      return out;
    } finally {
      await store.close();
    }
  } finally {
    await setup.drop();
  }
}

/**
 * W17 for one backend (`w17`: SQLite, `w17p`: Postgres).
 *
 * @example
 * ```ts
 * export const workload = recoveryWorkload('postgres');
 * ```
 */
export function recoveryWorkload(backend: DurableBackend): Workload {
  const embedded = backend === 'sqlite';
  return {
    id: embedded ? 'w17' : 'w17p',
    title: `Recovery of 10,000 interrupted durable runs (${embedded ? 'embedded SQLite' : 'PostgreSQL'})`,
    description: `10,000 runs (quick: 1,000) of a 10-node chain on ${embedded ? 'the embedded SQLite store' : 'the PostgreSQL store'} are interrupted in node 6 (nodes 1–5 completed and stored) by abandoning their engine (\`shutdown({ mode: 'cancel' })\` leaves durable runs to be recovered and releases their leases). A fresh engine then calls \`recover({ limit: 10000 })\`: \`relaunched_ms\` until it resolves (claimed, histories read, relaunched), \`running_ms\` until every run has entered node 6 again, \`completed_ms\` until every run completed (checked: each output).`,
    metrics: [
      { name: 'running_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'completed_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'relaunched_ms', unit: 'ms', better: 'lower', ratio: false },
      { name: 'runs', unit: 'runs', better: 'none', ratio: false },
    ],
    targets: [
      { kind: 'value', metric: 'running_ms', op: '<', value: 10_000, label: 'all running again < 10 s (requirement)' },
      { kind: 'value', metric: 'running_ms', op: '<', value: 2_000, label: 'all running again < 2 s (target)' },
      { kind: 'value', metric: 'completed_ms', op: '<', value: 10_000, label: 'all completed < 10 s (requirement)' },
    ],
    systems: () => ['llm-orchestrator'],
    ...(embedded ? {} : { skip: skipWithoutPostgres }),
    timeoutMs: (mode) => (mode === 'quick' ? 120_000 : 300_000),
    run: (ctx) => measure(ctx, backend),
  };
}

export const workload = recoveryWorkload('sqlite');
