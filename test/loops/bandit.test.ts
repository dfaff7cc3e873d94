import { describe, expect, it } from 'vitest';
import { attachEvaluator } from '../../src/loops/evaluator.ts';
import { createLoop } from '../../src/loops/loop.ts';
import { createRandom } from '../../src/primitives/random.ts';
import type { ExperienceMessage } from '../../src/transports/messages.ts';
import { plain, simEngine } from './helpers.ts';

/** Success probability of each simulated model, and its output price (USD per million tokens). */
const QUALITY: Record<string, number> = { 'sim:a': 0.5, 'sim:b': 0.7, 'sim:c': 0.9 };
const PRICES = { 'sim:a': { input: 0, output: 0 }, 'sim:b': { input: 0, output: 60 }, 'sim:c': { input: 0, output: 600 } };
const COST_WEIGHT = 100;

describe('bandit routing', () => {
  it('three simulated models of known quality and price: traffic converges to the best-reward arm; experience is recorded', async () => {
    const loop = createLoop({ seed: 42 });
    const engine = simEngine(loop, PRICES);
    const xs: ExperienceMessage[] = [];
    loop.experience$.subscribe((x) => xs.push(x));
    const rnd = createRandom(2024);
    const evaluator = attachEvaluator(loop, (req) => ({ metric: 'correct', score: rnd.next() < QUALITY[req.models['answer']!]! ? 1 : 0 }), { source: 'sim-judge' });
    const applied = loop.applyPolicy({
      policyId: 'route', version: 1, target: 'plain', reason: 'bandit over three models', ts: 0,
      params: {
        bandits: JSON.stringify({
          answer: { arms: { a: { model: 'sim:a' }, b: { model: 'sim:b' }, c: { model: 'sim:c' } }, metric: 'correct', costWeight: COST_WEIGHT, rewards: 'gaussian' },
        }),
      },
    });
    expect(applied.ok).toBe(true);
    const picks: string[] = [];
    let cost = 0;
    for (let i = 0; i < 2_000; i++) {
      const r = await engine.run(plain, { q: `question ${i}` });
      expect(r.status).toBe('completed');
      picks.push(r.decision!.arms!['answer']!);
      cost += r.usage.costUsd;
    }
    // reward = P(correct) - 100 x cost: a 0.5, b 0.7 - 0.048 = 0.65, c 0.9 - 0.48 = 0.42
    const mean = (arm: string): number => {
      const rows = xs.filter((x) => x.arm === arm);
      return rows.reduce((s, x) => s + x.reward, 0) / rows.length;
    };
    expect(mean('b')).toBeGreaterThan(mean('a'));
    expect(mean('b')).toBeGreaterThan(mean('c'));
    const last = picks.slice(-500);
    expect(last.filter((p) => p === 'b').length / last.length).toBeGreaterThan(0.8);
    expect(xs).toHaveLength(2_000);
    expect(xs[0]).toMatchObject({ topology: 'plain', decision: 'answer', metric: 'correct' });
    expect(cost).toBeGreaterThan(0);
    const [state] = loop.bandits();
    expect(state).toMatchObject({ topology: 'plain', decision: 'answer' });
    const pulls = Object.fromEntries(state!.arms.map((a) => [a.arm, a.pulls]));
    expect(pulls['b']).toBeGreaterThan(pulls['a']! + pulls['c']!);
    expect(evaluator.stats()).toMatchObject({ requests: 2_000, feedback: 2_000, errors: 0 });
    evaluator.stop();
    await engine.shutdown();
  }, 60_000);

  it('the same seed gives the same picks', async () => {
    const run = async (): Promise<string[]> => {
      const loop = createLoop({ seed: 7 });
      const engine = simEngine(loop, PRICES);
      const rnd = createRandom(1);
      attachEvaluator(loop, (req) => ({ metric: 'correct', score: rnd.next() < QUALITY[req.models['answer']!]! ? 1 : 0 }));
      loop.applyPolicy({
        policyId: 'route', version: 1, target: 'plain', reason: null, ts: 0,
        params: { bandits: JSON.stringify({ answer: { arms: { a: { model: 'sim:a' }, c: { model: 'sim:c' } }, metric: 'correct', strategy: 'epsilon-greedy', epsilon: 0.2 } }) },
      });
      const picks: string[] = [];
      for (let i = 0; i < 200; i++) picks.push((await engine.run(plain, { q: `q${i}` })).decision!.arms!['answer']!);
      await engine.shutdown();
      return picks;
    };
    expect(await run()).toEqual(await run());
  });
});
