/**
 * W6: 1,000,000 inputs from an instant source into a cap-4 stage with 1 ms work,
 * run for a fixed time: peak heap, heap growth, in-flight maximum.
 * @module
 */
import type { Workload } from '../lib/types.ts';
import type { NodeFn } from '../systems/types.ts';
import { heapUsed, liveHeap, sleep } from '../lib/measure.ts';
import { ALL_SYSTEMS } from './common.ts';

const LIMIT = 4;
const INPUTS = 1_000_000;

function* numbers(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

export const workload: Workload = {
  id: 'w6',
  title: '1,000,000 inputs from a generator into a cap-4 stage (1 ms work), fixed time',
  description: 'The source could produce everything at once; only 4 may be worked on. Runs 3 s (quick: 1.5 s). llm-orchestrator: `engine.stream(t, generator, { maxInFlight: 4 })` with a node cap of 4; raw RxJS: `from(generator).pipe(mergeMap(work, 4))`; promise, LangGraph, Mastra: a pool of 4 workers pulling from the generator. Heap growth is live heap (forced GC) at the end minus at 1 s (quick: 0.5 s).',
  metrics: [
    { name: 'peak_heap_mb', unit: 'MB', better: 'lower', ratio: false },
    { name: 'peak_over_base_mb', unit: 'MB', better: 'lower' },
    { name: 'heap_growth_kb', unit: 'KB', better: 'lower', ratio: false },
    { name: 'inflight_max', unit: 'calls', better: 'lower', ratio: false },
    { name: 'admitted_max', unit: 'runs', better: 'lower', ratio: false },
    { name: 'items_per_s', unit: 'items/s', better: 'higher' },
  ],
  targets: [
    { kind: 'value', metric: 'heap_growth_kb', op: '<=', value: 1024, label: 'heap flat (≤ 1 MB live-heap growth during the run)' },
    { kind: 'value', metric: 'inflight_max', op: '<=', value: LIMIT, label: `in flight ≤ ${LIMIT}` },
    { kind: 'value', metric: 'admitted_max', op: '<=', value: LIMIT, label: `runs admitted ≤ ${LIMIT}` },
  ],
  systems: () => ALL_SYSTEMS,
  timeoutMs: (mode) => (mode === 'quick' ? 30_000 : 60_000),
  async run(ctx) {
    const seconds = ctx.mode === 'quick' ? 1.5 : 3;
    const midMs = ctx.mode === 'quick' ? 500 : 1000;
    let inflight = 0;
    let inflightMax = 0;
    let finished = 0;
    let results = 0;
    let bad = 0;
    const work: NodeFn = async (x) => {
      if (++inflight > inflightMax) inflightMax = inflight;
      await sleep(1);
      inflight--;
      finished++;
      return x * 2;
    };
    const onResult = (out: number): void => {
      results++;
      if (out % 2 !== 0 || out < 0 || out >= 2 * INPUTS) bad++;
    };

    // Warm-up on a short source.
    const warm = ctx.system.pump(numbers(400), LIMIT, work, onResult);
    await sleep(ctx.mode === 'quick' ? 200 : 500);
    await warm.stop();
    await sleep(20);
    inflight = 0;
    inflightMax = 0;
    finished = 0;
    results = 0;

    const base = await liveHeap();
    let peak = heapUsed();
    let admittedMax = 0;
    const t0 = performance.now();
    const pump = ctx.system.pump(numbers(INPUTS), LIMIT, work, onResult);
    const sampler = setInterval(() => {
      const h = heapUsed();
      if (h > peak) peak = h;
      const a = pump.admitted?.();
      if (a !== undefined && a > admittedMax) admittedMax = a;
    }, 10);
    await sleep(midMs);
    const mid = await liveHeap();
    await sleep(Math.max(0, seconds * 1000 - (performance.now() - t0)));
    const end = await liveHeap();
    const elapsed = performance.now() - t0;
    const done = results;
    clearInterval(sampler);
    await pump.stop();
    await sleep(20);
    if (bad > 0) throw new Error(`${bad} wrong outputs`);
    if (done === 0) throw new Error('no results');
    if (results > finished) throw new Error(`${results} results for ${finished} finished calls`);
    ctx.log(`${done} results in ${elapsed.toFixed(0)} ms; in flight max ${inflightMax}; heap base ${(base / 2 ** 20).toFixed(1)} MB, peak ${(peak / 2 ** 20).toFixed(1)} MB, 1 s ${(mid / 2 ** 20).toFixed(2)} MB, end ${(end / 2 ** 20).toFixed(2)} MB`);
    return {
      peak_heap_mb: peak / 2 ** 20,
      peak_over_base_mb: (peak - base) / 2 ** 20,
      heap_growth_kb: (end - mid) / 1024,
      inflight_max: inflightMax,
      ...(pump.admitted === undefined ? {} : { admitted_max: admittedMax }),
      items_per_s: done / (elapsed / 1000),
    };
  },
};
