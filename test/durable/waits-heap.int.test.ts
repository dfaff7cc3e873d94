/**
 * Parked runs hold no memory: park N runs of a two-node topology (map -> wait) on a
 * real SQLite file, measure the heap after a full GC before and after (the per-run
 * growth must be tiny: no Run, no timer, no closure stays), then "restart" (close the
 * store, open it again in a new engine) and signal every run: all complete, with the
 * upstream node run once per run. Asserts memory, never time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { openStore } from '../../src/stores/open.ts';

const N = Number(process.env.WAITS_N ?? 100_000);
const BATCH = 2_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heap(): number {
  for (let k = 0; k < 4; k++) gc();
  return process.memoryUsage().heapUsed;
}

const dir = mkdtempSync(join(tmpdir(), 'llmo-waits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parked runs', () => {
  it(`${N.toLocaleString('en')} parked runs hold no memory, and each resumes on a signal after a restart`, async () => {
    let upstream = 0;
    const make = () => topology('approve', { input: z.object({ n: z.number() }) })
      .map('draft', { run: ({ input }) => { upstream++; return `draft ${input.n}`; } })
      .wait('ok', { after: ['draft'], name: 'ok', schema: z.object({ by: z.string() }) })
      .map('publish', { after: ['draft', 'ok'], run: ({ deps }) => `${deps.draft} by ${deps.ok.by}` })
      .build({ output: 'publish' });
    const file = join(dir, 'runs.db');
    let store = await openStore(file);
    const t1 = make();
    const e1 = createEngine({ store, topologies: [t1] });
    const park = async (from: number, to: number): Promise<number> => {
      let parked = 0;
      for (let b = from; b < to; b += BATCH) {
        const rs = await Promise.all(Array.from({ length: Math.min(BATCH, to - b) }, (_, k) => e1.run(t1, { n: b + k }, { runId: `p${b + k}` }).then((r) => r.status)));
        parked += rs.filter((s) => s === 'waiting').length;
      }
      return parked;
    };
    // warm up (code, caches, the store's statements), then measure
    expect(await park(0, BATCH)).toBe(BATCH);
    const before = heap();
    expect(await park(BATCH, N)).toBe(N - BATCH);
    expect(e1.inFlight).toBe(0);
    const after = heap();
    const perRun = (after - before) / (N - BATCH);
    console.log(`heap growth per parked run: ${perRun.toFixed(1)} bytes (${before} -> ${after})`);
    expect(perRun).toBeLessThan(200);
    expect(upstream).toBe(N);
    const page = await store.listRuns({ status: ['waiting'], limit: 5 });
    expect(page.runs).toHaveLength(5);
    await e1.shutdown();
    await store.close();

    // restart: a new store handle and a new engine
    store = await openStore(file);
    const e2 = createEngine({ store, topologies: [make()] });
    let completed = 0;
    for (let b = 0; b < N; b += BATCH) {
      const ends = await Promise.all(Array.from({ length: Math.min(BATCH, N - b) }, async (_, k) => {
        const receipt = await e2.signal(`p${b + k}`, 'ok', { by: 'ana' });
        const r = await receipt.result!;
        return r.status === 'completed' && r.output === `draft ${b + k} by ana`;
      }));
      completed += ends.filter(Boolean).length;
    }
    expect(completed).toBe(N);
    expect(upstream).toBe(N);
    expect((await store.listRuns({ status: ['waiting'], limit: 1 })).runs).toHaveLength(0);
    await e2.shutdown();
    await store.close();
  });
});
