import { describe, expect, it } from 'vitest';
import { createLoop } from '../../src/loops/loop.ts';
import { createRandom } from '../../src/primitives/random.ts';
import type { LoopEvent } from '../../src/runtime/loop.ts';
import type { PolicyUpdateMessage } from '../../src/transports/messages.ts';
import { drive, plain, simEngine } from './helpers.ts';

const clamp = (x: number): number => Math.min(1, Math.max(0, x));
const QUALITY: Record<string, number> = { 'sim:a': 0.8, 'sim:b': 0.5, 'sim:c': 0.8 };
const CANARY = { percent: 10, step: 30, everyRuns: 40, metric: 'q' };

function policy(k: number, model: string, canary?: object): PolicyUpdateMessage {
  return {
    policyId: `p${k}`, version: k, target: 'plain', reason: `model ${model}`, ts: k,
    params: { nodes: JSON.stringify({ answer: { model } }), ...(canary === undefined ? {} : { canary: JSON.stringify(canary) }) },
  };
}

function setup(seed: number): { loop: ReturnType<typeof createLoop>; events: LoopEvent[]; score: (model: string) => number } {
  const loop = createLoop({ topologies: [plain], seed });
  const events: LoopEvent[] = [];
  loop.events$.subscribe((e) => events.push(e));
  const rnd = createRandom(seed);
  return { loop, events, score: (model) => clamp(rnd.normal(QUALITY[model]!, 0.15)) };
}

describe('canary rollout', () => {
  it('a bad canary version is rolled back automatically, with events for each step', () => {
    const { loop, events, score } = setup(3);
    expect(loop.applyPolicy(policy(1, 'sim:a')).ok).toBe(true);
    const candidate = loop.applyPolicy(policy(2, 'sim:b', CANARY));
    expect(candidate.ok).toBe(true);
    const v2 = candidate.ok ? candidate.policy.version : -1;
    const ds = drive(loop, plain, 3_000, score, { users: 3_000 });
    const types = events.map((e) => (e.type === 'canary.step' ? `canary.${e.phase}` : e.type));
    expect(types[0]).toBe('policy.applied');
    expect(types).toContain('canary.started');
    expect(types).toContain('canary.rolled_back');
    expect(types).toContain('policy.rolled_back');
    expect(events.find((e) => e.type === 'quality.regression')).toMatchObject({ action: 'rollback', metric: 'q', topology: 'plain' });
    expect(events.find((e) => e.type === 'canary.step' && e.phase === 'started')).toMatchObject({ version: v2, percent: 10 });
    // the canary got about its share while it ran, and none after the rollback
    const rolledAt = ds.findIndex((d, i) => i > 0 && d.policyVersion !== v2 && d.policyVersion !== ds[0]!.policyVersion);
    expect(rolledAt).toBeGreaterThan(0);
    const during = ds.slice(0, rolledAt);
    const share = during.filter((d) => d.policyVersion === v2).length / during.length;
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.5);
    const current = loop.policies('plain')[0]!;
    expect(current.document.nodes).toEqual({ answer: { model: 'sim:a' } });
    for (const d of ds.slice(rolledAt)) expect(d.policyVersion).toBe(current.version);
  });

  it('a good canary grows step by step and is promoted to all traffic', () => {
    const { loop, events, score } = setup(4);
    loop.applyPolicy(policy(1, 'sim:a'));
    const r = loop.applyPolicy(policy(2, 'sim:c', CANARY));
    const v2 = r.ok ? r.policy.version : -1;
    drive(loop, plain, 3_000, score, { users: 3_000 });
    const steps = events.filter((e) => e.type === 'canary.step');
    expect(steps.map((e) => e.phase)).toEqual(['started', 'grown', 'grown', 'promoted']);
    expect(steps.map((e) => e.percent)).toEqual([10, 40, 70, 100]);
    expect(events.some((e) => e.type === 'quality.regression' || e.type === 'policy.rolled_back')).toBe(false);
    const after = drive(loop, plain, 200, score, { from: 10_000 });
    for (const d of after) expect(d.policyVersion).toBe(v2);
  });

  it("a canary of a topology's first policy is compared with the topology's own definition (version 0)", () => {
    const { loop, events, score } = setup(6);
    const bad = { ...policy(1, 'sim:b', CANARY) };
    expect(loop.applyPolicy(bad).ok).toBe(true);
    drive(loop, plain, 2_000, score, { users: 2_000 });
    expect(events.find((e) => e.type === 'canary.step' && e.phase === 'started')).toMatchObject({ version: 1, baseline: 0 });
    expect(events.some((e) => e.type === 'canary.step' && e.phase === 'rolled_back')).toBe(true);
    expect(loop.policies('plain')[0]).toMatchObject({ version: 2, document: {} });
  });

  it('runs on an engine keep the version they started with while the canary decides', async () => {
    const { loop, score } = setup(5);
    const engine = simEngine(loop);
    loop.applyPolicy(policy(1, 'sim:a'));
    loop.applyPolicy(policy(2, 'sim:b', CANARY));
    for (let i = 0; i < 1_500; i++) {
      const r = await engine.run(plain, { q: `q${i}` }, { user: `u${i}` });
      const model = (r.outputs['answer'] as { model: string }).model;
      expect(new Set(r.events.map((e) => e.policyVersion))).toEqual(new Set([r.decision!.policyVersion]));
      loop.feedback({ feedbackId: `f${i}`, topology: 'plain', runId: r.runId, nodeId: null, model: null, metric: 'q', score: score(model), source: 't', ts: 0, comment: null });
    }
    expect(loop.policies('plain')[0]!.document.nodes).toEqual({ answer: { model: 'sim:a' } });
    await engine.shutdown();
  });
});
