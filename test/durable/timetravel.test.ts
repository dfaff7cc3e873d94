/**
 * Time travel over random runs: for random DAGs (map, route and join nodes, the
 * shapes test/property.test.ts generates, smaller) run on a durable engine, the state
 * `engine.runs.stateAt` gives at every seq (and at every event's time) equals the
 * fold of the run's events up to there, and the final state matches the RunResult.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { join, map, route, topology, type NodeDef, type Topology } from '../../src/index.ts';
import { createEngine } from '../../src/runtime/engine.ts';
import { foldRun } from '../../src/runtime/fold.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';

interface Raw {
  readonly kind: 'map' | 'route' | 'join';
  readonly parents: readonly number[];
  readonly pick: number;
  readonly async: boolean;
}

const rawArb = fc.array(fc.record({
  kind: fc.constantFrom<Raw['kind']>('map', 'map', 'route', 'join'),
  parents: fc.array(fc.nat({ max: 20 }), { maxLength: 3 }),
  pick: fc.nat({ max: 1 }),
  async: fc.boolean(),
}), { minLength: 1, maxLength: 14 });

/** A valid random DAG: parents come before children; a route's children depend on it by branch. */
export function randomDag(raw: readonly Raw[], name = 'rand'): Topology {
  const nodes: NodeDef[] = [];
  const ids: string[] = [];
  const routeOf = new Map<number, string[]>();
  raw.forEach((r, v) => {
    const id = `n${v}`;
    const ps = v === 0 ? [] : [...new Set(r.parents.map((p) => p % v))];
    const fn = (deps: Record<string, unknown>): unknown => `${id}(${Object.keys(deps).sort().map((k) => String(deps[k])).join(',')})`;
    const after = ps.map((p) => ids[p]!);
    if (r.kind === 'join' && after.length > 0) {
      nodes.push(join(id, { after, run: ({ deps }) => fn(deps as Record<string, unknown>) }));
    } else if (r.kind === 'route') {
      const branches = { a: [] as string[], b: [] as string[] };
      routeOf.set(v, []);
      const choose = r.pick === 0 ? 'a' : 'b';
      nodes.push({ ...route(id, { after, branches: { a: [], b: [] }, select: () => choose }), branches });
    } else {
      nodes.push(map(id, { after, run: r.async ? async ({ deps }) => fn(deps as Record<string, unknown>) : ({ deps }) => fn(deps as Record<string, unknown>) }));
    }
    ids.push(id);
  });
  // each node after a route parent is put on one of its branches (alternating), so some are skipped
  nodes.forEach((n, v) => {
    for (const p of n.after) {
      const pv = ids.indexOf(p);
      const br = nodes[pv]!.branches as Record<string, string[]> | undefined;
      if (br !== undefined && nodes[pv]!.kind === 'route') (v % 2 === 0 ? br['a']! : br['b']!).push(n.id);
    }
  });
  for (const [v] of routeOf) {
    const br = nodes[v]!.branches as Record<string, string[]>;
    // a route needs at least one branch target to be valid: an empty branch is allowed by name only
    if (br['a']!.length === 0 && br['b']!.length === 0) delete br['b'];
  }
  return { name, nodes, output: ids[ids.length - 1]! };
}

describe('time travel', () => {
  it('the state at every seq and time equals the fold of the events up to it; the last equals the result', async () => {
    let runs = 0;
    await fc.assert(fc.asyncProperty(rawArb, async (raw) => {
      const t = randomDag(raw);
      const store = createMemoryStore();
      const engine = createEngine({ store });
      // a few random shapes cannot run (a node needing two branches of one route): not this test's subject
      const valid = (() => { try { engine.compile(t); return true; } catch { return false; } })();
      fc.pre(valid);
      const runId = `tt${++runs}`;
      const r = await engine.run(t, undefined, { runId });
      const log = await engine.runs.history(runId);
      expect(log.map((e) => e.seq)).toEqual(log.map((_, k) => k));
      for (const e of log) {
        const at = await engine.runs.stateAt(runId, { seq: e.seq });
        expect(at).toEqual(foldRun(log.slice(0, e.seq + 1)));
        expect(at.lastSeq).toBe(e.seq);
        const byTime = await engine.runs.stateAt(runId, { ts: e.ts });
        expect(byTime).toEqual(foldRun(log.filter((x) => x.ts <= e.ts)));
      }
      const last = await engine.runs.stateAt(runId, { seq: log.length - 1 });
      expect(last.status).toBe(r.status);
      expect(last.outputs).toEqual(r.outputs);
      expect(last.output).toEqual(r.output);
      const skipped = Object.entries(last.nodes).filter(([, n]) => n.status === 'skipped').map(([id]) => id).sort();
      expect(skipped).toEqual([...r.skipped].sort());
      const { byNode: _byNode, ...totals } = r.usage;
      // runs without model calls record no usage (all zero)
      expect(last.usage ?? totals).toEqual(totals);
      const rec = await engine.runs.get(runId);
      expect(rec?.status).toBe(r.status);
      expect((await engine.runs.list({ topology: t.name })).runs.map((x) => x.runId)).toEqual([runId]);
      await engine.shutdown();
    }), { numRuns: 60 });
  });

  it('rejects bad positions and unknown runs with clear errors, and needs a store', async () => {
    const store = createMemoryStore();
    const engine = createEngine({ store });
    const t = topology('one').map('a', { run: () => 1 }).build({ output: 'a' });
    await engine.run(t, undefined, { runId: 'x1' });
    await expect(engine.runs.stateAt('x1', { seq: -1 })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
    await expect(engine.runs.stateAt('nope', { seq: 0 })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    expect((await engine.runs.stateAt('x1', { seq: 0 })).status).toBe('running');
    expect((await engine.runs.history('x1', { fromSeq: 1, toSeq: 2 })).map((e) => e.seq)).toEqual([1, 2]);
    await expect(createEngine().runs.list()).rejects.toMatchObject({ code: 'STORE_INVALID' });
    await engine.shutdown();
  });
});
