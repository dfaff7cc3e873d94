import { describe, expect, it } from 'vitest';
import { createLoop } from '../../src/loops/loop.ts';
import type { RunResult } from '../../src/runtime/result.ts';
import type { PolicyUpdateMessage } from '../../src/transports/messages.ts';
import { abTopology, simEngine } from './helpers.ts';

const MODELS = ['sim:a', 'sim:b', 'sim:c', 'sim:d'];

/** Policy update k: its own model, temperature and split, so a run shows which version it ran under. */
function update(k: number): PolicyUpdateMessage {
  return {
    policyId: `opt-${k}`, version: k, target: 'hot', reason: `step ${k}`, ts: k,
    params: {
      nodes: JSON.stringify({ answer: { model: MODELS[k % MODELS.length], temperature: (k % 20) / 10 } }),
      variants: JSON.stringify({ control: k % 10, b: 10 - (k % 10) }),
    },
  };
}

describe('hot policy swap under load', () => {
  it('10,000 runs while 50 policy updates apply: no failed run, each run on one version from start to end', async () => {
    const t = abTopology('hot');
    const loop = createLoop({ topologies: [t], evaluation: { sampleRate: 0 } });
    const engine = simEngine(loop, {}, 100_000);
    const pending: Promise<RunResult>[] = [];
    const applied: number[] = [];
    const inFlightAtUpdate: number[] = [];
    let inFlight = 0;
    for (let i = 0; i < 10_000; i++) {
      if (i % 200 === 100) {
        inFlightAtUpdate.push(inFlight);
        const r = loop.applyPolicy(update(applied.length + 1));
        expect(r.ok).toBe(true);
        if (r.ok) applied.push(r.policy.version);
        // let some of the runs in flight progress between updates
        await new Promise((res) => setImmediate(res));
      }
      inFlight++;
      pending.push(engine.run(t, { q: `q${i}` }, { user: `u${i % 500}` }).then((r) => { inFlight--; return r; }));
    }
    const results = await Promise.all(pending);
    expect(applied).toHaveLength(50);
    // the updates land while runs of the earlier versions are under way
    expect(inFlightAtUpdate.filter((n) => n > 0).length).toBeGreaterThanOrEqual(45);
    expect(results.filter((r) => r.status !== 'completed')).toEqual([]);
    const byVersion = new Map(applied.map((v, k) => [v, update(k + 1)]));
    const seen = new Set<number>();
    for (const r of results) {
      const v = r.decision!.policyVersion!;
      seen.add(v);
      const versions = new Set(r.events.map((e) => e.policyVersion));
      expect(versions).toEqual(new Set([v]));
      const u = byVersion.get(v);
      if (u === undefined) {
        expect(v).toBe(0);
        continue;
      }
      const node = JSON.parse(u.params['nodes']!) as { answer: { model: string; temperature: number } };
      expect((r.outputs['answer'] as { model: string }).model).toBe(node.answer.model);
      expect(r.decision?.overrides?.['answer']?.temperature).toBe(node.answer.temperature);
    }
    expect(seen.size).toBe(51);
    expect(loop.policies('hot')[0]!.version).toBe(applied.at(-1));
    await engine.shutdown();
  }, 60_000);
});
