/**
 * Property: over random DAGs (maps, routes, joins), a durable run crashed at a random
 * event of its log and recovered by another engine ends exactly as the uninterrupted
 * run: same status and outputs, a gap-free log without a node completed twice, and no
 * node function called again once its completion was stored.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { validateTopology } from '../../src/compiler/validate.ts';
import type { NodeDef, Topology } from '../../src/definition/types.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { foldRun } from '../../src/runtime/fold.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { crashingStore, hookedStore, until } from './helpers.ts';

type Kind = 'map' | 'route' | 'join';
interface RawNode { kind: Kind; parents: number[]; branch: number[]; async: boolean }

const rawArb: fc.Arbitrary<RawNode> = fc.record({
  kind: fc.constantFrom<Kind>('map', 'map', 'route', 'join'),
  parents: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  branch: fc.array(fc.nat(1), { minLength: 3, maxLength: 3 }),
  async: fc.boolean(),
});

const h = (...xs: unknown[]): string => createHash('sha256').update(JSON.stringify(xs)).digest('hex').slice(0, 8);

/** A topology from raw nodes; `calls` counts node function calls by id. */
function build(raw: readonly RawNode[], calls: Map<string, number>): Topology {
  const ids = raw.map((_, v) => `n${v}`);
  const kinds: Kind[] = [];
  const after: number[][] = [];
  const branchOf: Map<number, number>[] = []; // child -> (route parent -> branch index)
  raw.forEach((r, v) => {
    const ps = v === 0 ? [] : [...new Set(r.parents.map((p) => v - 1 - (p % v)))];
    after.push(ps);
    kinds.push(v === 0 && r.kind === 'join' ? 'map' : r.kind);
    const m = new Map<number, number>();
    ps.forEach((p, k) => m.set(p, r.branch[k % r.branch.length]!));
    branchOf.push(m);
  });
  const make = (): Topology => ({
    name: 'dag',
    nodes: raw.map((r, v): NodeDef => {
      const id = ids[v]!;
      const kind = kinds[v]!;
      const def: { -readonly [K in keyof NodeDef]: NodeDef[K] } = {
        id, kind, after: after[v]!.map((p) => ids[p]!),
        execute: (ctx) => {
          calls.set(id, (calls.get(id) ?? 0) + 1);
          const out = kind === 'route' ? `b${Number.parseInt(h(id, ctx.input), 16) % 2}` : h(id, ctx.input, ctx.deps);
          return r.async ? new Promise((res) => setTimeout(() => res(out), 0)) : out;
        },
      };
      if (kind === 'route') {
        const branches: Record<string, string[]> = { b0: [], b1: [] };
        for (let c = v + 1; c < raw.length; c++) {
          const b = branchOf[c]!.get(v);
          if (b !== undefined) branches[`b${b}`]!.push(ids[c]!);
        }
        def.branches = branches;
      }
      return def;
    }),
  });
  // a node whose parents need two branches of one route can never run: make such nodes joins
  for (let pass = 0; pass < raw.length; pass++) {
    const v = validateTopology(make());
    if (v.ok) break;
    for (let k = 0; k < raw.length; k++) if (after[k]!.length >= 2 && kinds[k] !== 'join') kinds[k] = 'join';
  }
  const t = make();
  expect(validateTopology(t).issues).toEqual([]);
  return t;
}

describe('crash at a random event, recover, compare with the uninterrupted run', () => {
  it('holds over random DAGs', async () => {
    let resumedCases = 0;
    await fc.assert(fc.asyncProperty(fc.array(rawArb, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat(1_000), async (raw, input, cut) => {
      const refCalls = new Map<string, number>();
      let writes = 0;
      const ref = createEngine({ store: hookedStore(createMemoryStore(), (_, forward) => ((writes += 1), forward())) });
      const expected = await ref.run(build(raw, refCalls), { input }, { runId: 'p' });
      await ref.shutdown();

      // the crash comes at a random write of the run (the first holds its row: before it, nothing to resume)
      const base = createMemoryStore();
      const crashed = crashingStore(base, cut % writes, 'writes');
      const t1 = build(raw, new Map());
      const e1 = createEngine({ store: crashed, durable: { owner: 'elsewhere:1:a', leaseMs: 60_000 } });
      let ended = false;
      void e1.run(t1, { input }, { runId: 'p' }).then(() => { ended = true; });
      await until(() => crashed.crashed || ended);
      const stored = (await base.getRun('p'));
      const doneBefore = stored === undefined ? {} : foldRun(await base.history('p')).outputs;

      const calls = new Map<string, number>();
      const e2 = createEngine({ store: base, topologies: [build(raw, calls)], durable: { now: () => Date.now() + 3_600_000 } });
      const report = await e2.recover();
      const results = await firstValueFrom(report.results.pipe(toArray()));
      await e2.shutdown();
      if (ended || stored === undefined) {
        // finished before the cut, or crashed before its row was stored: nothing to resume
        expect(results).toEqual([]);
        if (ended) expect((await base.getRun('p'))?.status).toBe(expected.status);
        return;
      }
      expect(results.length).toBe(1);
      resumedCases++;
      const r = results[0]!;
      expect(r.status).toBe(expected.status);
      const log = await base.history('p');
      expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k));
      const done = log.filter((e) => e.type === 'node.completed').map((e) => e.nodeId);
      expect(new Set(done).size).toBe(done.length);
      expect(foldRun(log).outputs).toEqual(expected.outputs);
      expect((await base.getRun('p'))?.output).toEqual(expected.output);
      for (const id of Object.keys(doneBefore)) expect(calls.get(id), `${id} ran again`).toBeUndefined();
    }), { numRuns: 80 });
    expect(resumedCases, 'cases that crashed mid-run and were resumed').toBeGreaterThan(20);
  });
});
