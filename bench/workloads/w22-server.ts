/**
 * W22: what the HTTP API adds to a run. One map node (`text.toUpperCase()`) on an engine with
 * a memory run store; the same engine serves `llmo serve`'s API on 127.0.0.1. Each run is
 * submitted either directly (`engine.run`) or as `POST /v1/runs` with `wait: true` over real
 * HTTP (a keep-alive `node:http` agent; node's fetch reported beside it), one at a time, in alternating blocks: submit-to-result
 * latency p50/p99 of each and the milliseconds the API adds. Target: ≤ 1 ms added at p50.
 * @module
 */
import { Agent, request } from 'node:http';
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
  description: 'One map node (upper-cases the input) on an engine with a memory run store, run one at a time either directly (`engine.run`, tenant set) or through the server on the same engine (`POST /v1/runs` with `wait: true` over HTTP on 127.0.0.1 with a keep-alive `node:http` agent: key check, zod validation of body and reply, run start, outcome). Alternating blocks of 200 runs (quick: 5 blocks of each, full: 25, the three ways in rotating order); wall-clock latency per run from submit to result; `added_p50_ms` is the API\'s p50 minus the direct p50, `ratio` API p50 ÷ direct p50; `fetch_*` the same requests sent with node\'s fetch (undici), a slower client. llm-orchestrator only.',
  metrics: [
    { name: 'direct_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'direct_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'api_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'api_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'added_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'added_p99_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'ratio', unit: '×', better: 'lower', ratio: false },
    { name: 'fetch_p50_ms', unit: 'ms', better: 'lower', ratio: false },
    { name: 'fetch_added_p50_ms', unit: 'ms', better: 'lower', ratio: false },
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
    const body = (i: number): string => JSON.stringify({ topology: 'w22', input: { text: `run ${i}` }, wait: true });
    const expectOk = (how: string, i: number, status: number | undefined, text: string): void => {
      const b = JSON.parse(text) as { status?: string; output?: unknown };
      if (status !== 200 || b.status !== 'completed' || b.output !== `RUN ${i}`) throw new Error(`${how} run ${i}: ${status} ${text.slice(0, 200)}`);
    };
    // node:http with a keep-alive agent (one socket, reused), and node's fetch (undici) for comparison
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const target = new URL(url);
    const api = (i: number): Promise<void> => new Promise((resolve, reject) => {
      const payload = body(i);
      const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(payload) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => {
          try { expectOk('API', i, res.statusCode, text); resolve(); } catch (e) { reject(e as Error); }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
    const apiFetch = async (i: number): Promise<void> => {
      const res = await fetch(url, { method: 'POST', headers, body: body(i) });
      expectOk('API (fetch)', i, res.status, await res.text());
    };
    const block = 200;
    const blocks = ctx.mode === 'quick' ? 5 : 25;
    type Way = 'direct' | 'api' | 'fetch';
    const lat: Record<Way, number[]> = { direct: [], api: [], fetch: [] };
    const measure = async (k: Way, n: number, keep: boolean): Promise<void> => {
      const f = k === 'direct' ? direct : k === 'api' ? api : apiFetch;
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await f(i);
        if (keep) lat[k].push(performance.now() - t0);
      }
    };
    try {
      await measure('direct', 500, false);
      await measure('api', 500, false);
      await measure('fetch', 500, false);
      const ways: readonly Way[] = ['direct', 'api', 'fetch'];
      for (let b = 0; b < blocks; b++) {
        for (let j = 0; j < ways.length; j++) await measure(ways[(b + j) % ways.length]!, block, true);
      }
    } finally {
      agent.destroy();
      await server.close();
      await backend.close();
      await engine.shutdown();
    }
    check(lat.api.length, block * blocks, 'API runs measured');
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    const d = sorted(lat.direct);
    const a = sorted(lat.api);
    const f = sorted(lat.fetch);
    const p = (xs: number[], q: number): number => percentileSorted(xs, q);
    const out = {
      direct_p50_ms: p(d, 50), direct_p99_ms: p(d, 99), api_p50_ms: p(a, 50), api_p99_ms: p(a, 99),
      added_p50_ms: p(a, 50) - p(d, 50), added_p99_ms: p(a, 99) - p(d, 99), ratio: median(a) / median(d),
      fetch_p50_ms: p(f, 50), fetch_added_p50_ms: p(f, 50) - p(d, 50),
    };
    ctx.log(`direct p50 ${out.direct_p50_ms.toFixed(3)} ms, p99 ${out.direct_p99_ms.toFixed(3)}; API p50 ${out.api_p50_ms.toFixed(3)} ms, p99 ${out.api_p99_ms.toFixed(3)}; added p50 ${out.added_p50_ms.toFixed(3)} ms (${out.ratio.toFixed(2)}×); with fetch p50 ${out.fetch_p50_ms.toFixed(3)} ms (+${out.fetch_added_p50_ms.toFixed(3)})`);
    return out;
  },
};
