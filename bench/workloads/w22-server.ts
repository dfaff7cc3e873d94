/**
 * W22: what the HTTP API adds to a run. One map node (`text.toUpperCase()`) on an engine with
 * a memory run store; the same engine serves `llmo serve`'s API on 127.0.0.1. Each run is
 * submitted either directly (`engine.run`) or as `POST /v1/runs` with `wait: true` over real
 * HTTP (node's fetch, keep-alive), one at a time, in alternating blocks: submit-to-result
 * latency p50/p99 of each and the milliseconds the API adds. Target: ≤ 1 ms added at p50.
 * @module
 */
import * as z from 'zod';
import { createEngine, topology } from '../../src/index.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { createLocalBackend, createMemoryKeyStore, createServer } from '../../src/server/index.ts';
import type { Workload } from '../lib/types.ts';
import { check } from '../lib/measure.ts';
import { median, percentileSorted } from '../lib/stats.ts';

export const workload: Workload = {
  id: 'w22',
  title: 'HTTP API overhead: submit-to-result through `POST /v1/runs` with `wait` vs `engine.run`',
  description: 'One map node (upper-cases the input) on an engine with a memory run store, run one at a time either directly (`engine.run`, tenant set) or through the server on the same engine (`POST /v1/runs` with `wait: true` over HTTP on 127.0.0.1 with node\'s fetch and keep-alive: key check, zod validation of body and reply, run start, outcome). Alternating blocks of 200 runs (quick: 5 blocks each, full: 25); wall-clock latency per run from submit to result; `added_p50_ms` is the API\'s p50 minus the direct p50, `ratio` API p50 ÷ direct p50. llm-orchestrator only.',
  metrics: [
    { name: 'direct_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'direct_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'api_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'api_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'added_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'added_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'ratio', unit: '×', better: 'lower', ratio: false },
  ],
  targets: [{ kind: 'value', metric: 'added_p50_ms', op: '<=', value: 1, label: '≤ 1 ms added at p50 by the API' }],
  systems: () => ['llm-orchestrator'],
  timeoutMs: (mode) => (mode === 'quick' ? 90_000 : 240_000),
  async run(ctx) {
    if (ctx.system.id !== 'llm-orchestrator') throw new Error(`w22 measures llm-orchestrator's server, not ${ctx.system.id}`);
    const t = topology('w22', { input: z.object({ text: z.string() }), maxInFlight: 1024 })
      .map('up', { run: ({ input }) => input.text.toUpperCase() })
      .build({ output: 'up' });
    const engine = createEngine({ store: createMemoryStore(), topologies: [t] });
    const keys = createMemoryKeyStore();
    const { secret } = await keys.create({ tenant: 'bench', roles: { '*': 'operator' } });
    const backend = createLocalBackend(engine, [t]);
    const server = await createServer({ backend, runs: engine.runs, keys }, { host: '127.0.0.1', port: 0, rateLimit: { max: 1_000_000 } });
    const url = `${await server.listen()}/v1/runs`;
    const headers = { authorization: `Bearer ${secret}`, 'content-type': 'application/json' };
    const direct = async (i: number): Promise<void> => {
      const r = await engine.run(t, { text: `run ${i}` }, { tenant: 'bench' });
      if (r.status !== 'completed' || r.output !== `RUN ${i}`) throw new Error(`direct run ${i}: ${r.status}`);
    };
    const api = async (i: number): Promise<void> => {
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ topology: 'w22', input: { text: `run ${i}` }, wait: true }) });
      const body = await res.json() as { status?: string; output?: unknown };
      if (res.status !== 200 || body.status !== 'completed' || body.output !== `RUN ${i}`) throw new Error(`API run ${i}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    };
    const block = 200;
    const blocks = ctx.mode === 'quick' ? 5 : 25;
    const lat: Record<'direct' | 'api', number[]> = { direct: [], api: [] };
    const measure = async (k: 'direct' | 'api', n: number, keep: boolean): Promise<void> => {
      const f = k === 'direct' ? direct : api;
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await f(i);
        if (keep) lat[k].push(performance.now() - t0);
      }
    };
    try {
      await measure('direct', 500, false);
      await measure('api', 500, false);
      for (let b = 0; b < blocks; b++) {
        const order: ('direct' | 'api')[] = b % 2 === 0 ? ['direct', 'api'] : ['api', 'direct'];
        for (const k of order) await measure(k, block, true);
      }
    } finally {
      await server.close();
      await backend.close();
      await engine.shutdown();
    }
    check(lat.api.length, block * blocks, 'API runs measured');
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    const d = sorted(lat.direct);
    const a = sorted(lat.api);
    const p = (xs: number[], q: number): number => percentileSorted(xs, q);
    const out = {
      direct_p50_ms: p(d, 50), direct_p99_ms: p(d, 99), api_p50_ms: p(a, 50), api_p99_ms: p(a, 99),
      added_p50_ms: p(a, 50) - p(d, 50), added_p99_ms: p(a, 99) - p(d, 99), ratio: median(a) / median(d),
    };
    ctx.log(`direct p50 ${out.direct_p50_ms.toFixed(3)} ms, p99 ${out.direct_p99_ms.toFixed(3)}; API p50 ${out.api_p50_ms.toFixed(3)} ms, p99 ${out.api_p99_ms.toFixed(3)}; added p50 ${out.added_p50_ms.toFixed(3)} ms (${out.ratio.toFixed(2)}×)`);
    return out;
  },
};
