import { describe, expect, it } from 'vitest';
import { createLoop } from '../../src/loops/loop.ts';
import { createRandom } from '../../src/primitives/random.ts';
import type { LoopEvent, RunDecision } from '../../src/runtime/loop.ts';
import { abTopology, answerModel, drive, simEngine } from './helpers.ts';

const clamp = (x: number): number => Math.min(1, Math.max(0, x));

describe('experiments', () => {
  it('assignment is sticky per user; every run, result and stats row carries its variant', async () => {
    const t = abTopology();
    const loop = createLoop({ topologies: [t] });
    const engine = simEngine(loop);
    const byUser = new Map<string, Set<string>>();
    for (let i = 0; i < 200; i++) {
      const user = `u${i % 20}`;
      const r = await engine.run(t, { q: `q${i}` }, { user });
      expect(r.status).toBe('completed');
      const variant = r.decision!.variant!;
      for (const e of r.events) expect(e.variant).toBe(variant);
      expect((r.outputs['answer'] as { model: string }).model).toBe(variant === 'b' ? 'sim:b' : 'sim:a');
      loop.feedback({ feedbackId: `f${i}`, topology: 'ab', runId: r.runId, nodeId: null, model: null, metric: 'q', score: variant === 'b' ? 0.5 : 1, source: 't', ts: 0, comment: null });
      byUser.set(user, (byUser.get(user) ?? new Set()).add(variant));
    }
    for (const vs of byUser.values()) expect(vs.size).toBe(1);
    const variants = new Set([...byUser.values()].flatMap((s) => [...s]));
    expect(variants).toEqual(new Set(['control', 'b']));
    const rows = engine.stats();
    expect(rows.map((r) => [r.variant, r.model, r.mean])).toEqual([['b', 'sim:b', 0.5], ['control', 'sim:a', 1]]);
    expect(rows[0]!.count + rows[1]!.count).toBe(200);
    await engine.shutdown();
  });

  it('a variant 20 % worse is paused within 300 evaluated runs; its traffic then goes to control', async () => {
    const t = abTopology();
    const loop = createLoop({ topologies: [t], regression: [{ metric: 'q', action: 'pause' }] });
    const engine = simEngine(loop);
    const events: LoopEvent[] = [];
    engine.events$.subscribe((e) => { if (e.type === 'quality.regression' || e.type === 'variant.state') events.push(e); });
    const rnd = createRandom(11);
    let evaluated = 0;
    let pausedAt = -1;
    const mean = { 'sim:a': 0.8, 'sim:b': 0.64 } as Record<string, number>;
    for (let i = 0; i < 1_000 && pausedAt < 0; i++) {
      const r = await engine.run(t, { q: `q${i}` }, { user: `user-${i}` });
      const model = (r.outputs['answer'] as { model: string }).model;
      loop.feedback({ feedbackId: `f${i}`, topology: 'ab', runId: r.runId, nodeId: null, model: null, metric: 'q', score: clamp(rnd.normal(mean[model], 0.2)), source: 't', ts: 0, comment: null });
      evaluated++;
      if (events.some((e) => e.type === 'variant.state')) pausedAt = evaluated;
    }
    expect(pausedAt).toBeGreaterThan(0);
    expect(pausedAt).toBeLessThanOrEqual(300);
    expect(events[0]).toMatchObject({ type: 'quality.regression', topology: 'ab', variant: 'b', control: 'control', metric: 'q', action: 'pause' });
    expect(events[1]).toMatchObject({ type: 'variant.state', topology: 'ab', variant: 'b', state: 'paused' });
    // users who were in b now run in control, on control's model
    for (let i = 0; i < 100; i++) {
      const r = await engine.run(t, { q: 'after' }, { user: `user-${i}` });
      expect(r.decision?.variant).toBe('control');
      expect((r.outputs['answer'] as { model: string }).model).toBe('sim:a');
    }
    // explicit recovery
    expect(loop.resume('ab', { variant: 'b' })).toBe(true);
    const after = new Set<string>();
    for (let i = 0; i < 50; i++) after.add((await engine.run(t, { q: 'x' }, { user: `user-${i}` })).decision!.variant!);
    expect(after).toEqual(new Set(['control', 'b']));
    await engine.shutdown();
  });

  it('A/A: 10,000 runs over several seeds raise no regression', () => {
    const t = abTopology();
    let alarms = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const loop = createLoop({ topologies: [t], seed, regression: [{ metric: 'q', action: 'pause' }] });
      loop.events$.subscribe((e) => { if (e.type === 'quality.regression') alarms++; });
      const rnd = createRandom(seed * 101);
      const ds = drive(loop, t, 10_000, () => clamp(rnd.normal(0.7, 0.2)), { users: 5_000 });
      const b = ds.filter((d) => d.variant === 'b').length;
      expect(b).toBeGreaterThan(4_500);
      expect(b).toBeLessThan(5_500);
    }
    expect(alarms).toBe(0);
  });

  it("a 'breaker' rule opens the quality breaker on the variant's model: chains drop it, the variant stays; recovery closes it", () => {
    const t = abTopology();
    const loop = createLoop({ topologies: [t], regression: [{ metric: 'q', action: 'breaker' }] });
    const events: LoopEvent[] = [];
    loop.events$.subscribe((e) => { if (e.type !== 'stats.updated') events.push(e); });
    const rnd = createRandom(5);
    drive(loop, t, 600, (model) => clamp(rnd.normal(model === 'sim:b' ? 0.4 : 0.8, 0.2)));
    expect(events.map((e) => e.type)).toEqual(['quality.regression', 'variant.state']);
    expect(events[1]).toMatchObject({ state: 'breaker_open', model: 'sim:b', variant: 'b' });
    const decide = (user: string): RunDecision => loop.decide({ topology: t, version: 'v', runId: user, tenant: undefined, user, input: {} })!;
    const bs = Array.from({ length: 100 }, (_, i) => decide(`z${i}`)).filter((d) => d.variant === 'b');
    expect(bs.length).toBeGreaterThan(20);
    for (const d of bs) expect(answerModel(t, d)).toBe('sim:a');
    loop.resume('ab', { model: 'sim:b' });
    expect(events.at(-1)).toMatchObject({ type: 'variant.state', state: 'breaker_closed', model: 'sim:b' });
    for (const d of Array.from({ length: 50 }, (_, i) => decide(`z${i}`)).filter((x) => x.variant === 'b')) expect(answerModel(t, d)).toBe('sim:b');
  });

  it('a new policy version is explicit recovery: paused variants resume', () => {
    const t = abTopology();
    const loop = createLoop({ topologies: [t], regression: [{ metric: 'q', action: 'pause' }] });
    const rnd = createRandom(9);
    drive(loop, t, 600, (model) => clamp(rnd.normal(model === 'sim:b' ? 0.4 : 0.8, 0.2)));
    const variants = (): Set<string | undefined> => new Set(drive(loop, t, 100, () => undefined, { from: 10_000 }).map((d) => d.variant));
    expect(variants()).toEqual(new Set(['control']));
    loop.applyPolicy({ policyId: 'fix', version: 1, target: 'ab', params: { nodes: '{"answer":{"temperature":0.3}}' }, reason: 'fixed b', ts: 0 });
    expect(variants()).toEqual(new Set(['control', 'b']));
  });
});
