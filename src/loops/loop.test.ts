import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.ts';
import type { LoopEvent, RunSummary } from '../runtime/loop.ts';
import type { EvaluationRequestMessage, ExperienceMessage } from '../transports/messages.ts';
import { abTopology, fb, plain, simEngine } from '../../test/loops/helpers.ts';
import { createLoop } from './loop.ts';

function summary(runId: string, over: Partial<RunSummary> = {}): RunSummary {
  return {
    runId, topology: 'plain', version: 'v', status: 'completed', input: { q: 'hi' }, output: 'out', startedAt: 0, endedAt: Date.now(),
    decision: { policyVersion: 0, evaluate: true }, models: { answer: 'sim:a' }, tenant: undefined, user: undefined, ...over,
  };
}

describe('createLoop options', () => {
  it('names the bad field', () => {
    let err: unknown;
    try {
      createLoop({ windowSize: -1, evaluation: { sampleRate: 2 } });
    } catch (e) {
      err = e;
    }
    expect(isValidationError(err)).toBe(true);
    const paths = (err as { issues: { path: (string | number)[] }[] }).issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['options.windowSize', 'options.evaluation.sampleRate']));
  });

  it('starts with the given policy versions (e.g. read back from the compacted policies topic); a bad one is named', () => {
    const p = { target: 'plain', version: 4, policyId: 'opt', document: { nodes: { answer: { temperature: 0.5 } } }, reason: null, ts: 0 };
    const loop = createLoop({ topologies: [plain], policies: [p] });
    expect(loop.decide({ topology: plain, version: 'v', runId: 'r', tenant: undefined, user: undefined, input: {} })).toMatchObject({ policyVersion: 4, overrides: { answer: { temperature: 0.5 } } });
    let err: unknown;
    try {
      createLoop({ topologies: [plain], policies: [p, { ...p, target: 'other', document: { nodes: { answer: { temperature: 9 } } } }] });
    } catch (e) {
      err = e;
    }
    expect(isValidationError(err) && err.issues[0]?.path).toEqual(['options', 'policies', 1, 'document', 'nodes', 'answer', 'temperature']);
  });
});

describe('feedback edge cases', () => {
  it('duplicate, unknown run, invalid and late feedback are counted and reported; nothing throws', () => {
    let clock = 1_000;
    const loop = createLoop({ now: () => clock, lateAfterMs: 60_000 });
    const events: LoopEvent[] = [];
    loop.events$.subscribe((e) => events.push(e));
    loop.ended(summary('r1', { endedAt: 1_000 }));
    const ok = fb('r1', 0.8, { feedbackId: 'k1' });
    expect(loop.feedback(ok)).toBe('joined');
    expect(loop.feedback(ok)).toBe('duplicate');
    expect(loop.feedback(fb('nope', 1))).toBe('unknown_run');
    expect(loop.feedback(fb('r1', Number.NaN))).toBe('invalid');
    expect(loop.feedback({ ...fb('r1', 1), metric: undefined } as never)).toBe('invalid');
    expect(loop.feedback(fb(null, 1))).toBe('invalid');
    expect(loop.feedback(null as never)).toBe('invalid');
    expect(loop.feedback('garbage' as never)).toBe('invalid');
    clock = 1_000 + 60_001;
    expect(loop.feedback(fb('r1', 0.4))).toBe('late');
    expect(loop.counters()).toEqual({ received: 9, joined: 1, late: 1, duplicate: 1, unknown_run: 1, invalid: 5 });
    const rejected = events.filter((e) => e.type === 'feedback.rejected');
    expect(rejected.map((e) => e.type === 'feedback.rejected' && e.reason)).toEqual(['duplicate', 'unknown_run', 'invalid', 'invalid', 'invalid', 'invalid', 'invalid']);
    expect(rejected[0]).toMatchObject({ feedbackId: 'k1', runId: 'r1' });
    expect(rejected[2]).toMatchObject({ reason: 'invalid', detail: expect.stringContaining('score') });
    // the late score still counts
    const rows = loop.stats();
    expect(rows).toEqual([expect.objectContaining({ topology: 'plain', variant: '', model: 'sim:a', metric: 'q', count: 2 })]);
    expect(rows[0]!.mean).toBeCloseTo(0.6);
    // each joined score is also an event carrying its row as it stands
    const updates = events.filter((e) => e.type === 'stats.updated');
    expect(updates).toHaveLength(2);
    expect(updates[1]).toMatchObject({ type: 'stats.updated', topology: 'plain', variant: '', model: 'sim:a', metric: 'q', count: 2, window: { count: 2 } });
    expect(updates[1]).toMatchObject({ mean: rows[0]!.mean, variance: rows[0]!.variance });
  });

  it('the model of a score: the named node, else the run\'s only model, else none', () => {
    const loop = createLoop();
    loop.ended(summary('r1', { models: { answer: 'sim:a', check: 'sim:b' } }));
    loop.feedback(fb('r1', 1, { nodeId: 'check' }));
    loop.feedback(fb('r1', 0));
    expect(loop.stats().map((r) => [r.model, r.count])).toEqual([['', 1], ['sim:b', 1]]);
  });

  it('forgets the oldest runs past joinCapacity', () => {
    const loop = createLoop({ joinCapacity: 2 });
    for (const id of ['r1', 'r2', 'r3']) loop.ended(summary(id));
    expect(loop.feedback(fb('r1', 1))).toBe('unknown_run');
    expect(loop.feedback(fb('r3', 1))).toBe('joined');
  });

  it('feedbackAsync looks up runs the loop does not remember; a failing lookup counts as unknown', async () => {
    const loop = createLoop({
      lookup: async (runId) => {
        if (runId === 'boom') throw new Error('store down');
        return runId === 'old' ? { runId, topology: 'plain', variant: '', policyVersion: 0, models: { answer: 'sim:a' }, arms: {}, costUsd: 0, tenant: null, user: null, endedAt: Date.now() } : undefined;
      },
    });
    expect(await loop.feedbackAsync(fb('old', 1))).toBe('joined');
    expect(loop.feedback(fb('old', 0))).toBe('joined');
    expect(await loop.feedbackAsync(fb('gone', 1))).toBe('unknown_run');
    expect(await loop.feedbackAsync(fb('boom', 1))).toBe('unknown_run');
    expect(await loop.feedbackAsync(fb('old', Number.POSITIVE_INFINITY))).toBe('invalid');
    expect(loop.counters()).toMatchObject({ received: 5, joined: 2, unknown_run: 2, invalid: 1 });
  });
});

describe('evaluation requests', () => {
  it('a seeded sampling rate is respected and repeatable', () => {
    const sampled = (seed: number): boolean[] => {
      const loop = createLoop({ seed, evaluation: { sampleRate: 0.3 } });
      return Array.from({ length: 2_000 }, (_, i) => loop.decide({ topology: plain, version: 'v', runId: `r${i}`, tenant: undefined, user: undefined, input: {} })!.evaluate === true);
    };
    const a = sampled(7);
    const share = a.filter(Boolean).length / a.length;
    expect(share).toBeGreaterThan(0.26);
    expect(share).toBeLessThan(0.34);
    expect(sampled(7)).toEqual(a);
    expect(sampled(8)).not.toEqual(a);
  });

  it('carry the run: variant, models, tokens, cost, latency; one more per marked node', async () => {
    const loop = createLoop({ evaluation: { sampleRate: 1, nodes: ['answer'] } });
    const engine = simEngine(loop, { 'sim:a': { input: 1, output: 2 }, 'sim:b': { input: 1, output: 2 } });
    const reqs: EvaluationRequestMessage[] = [];
    loop.evaluations$.subscribe((r) => reqs.push(r));
    const r = await engine.run(abTopology(), { q: 'What is up?' }, { user: 'u1', tenant: 't1' });
    expect(r.status).toBe('completed');
    expect(reqs).toHaveLength(2);
    const [run, node] = reqs;
    expect(run).toMatchObject({
      evaluationId: r.runId, runId: r.runId, nodeId: null, topology: 'ab', variant: r.decision?.variant, policyVersion: 0, status: 'completed',
      models: { answer: r.decision?.variant === 'b' ? 'sim:b' : 'sim:a' }, user: 'u1', tenant: 't1', input: '{"q":"What is up?"}',
    });
    expect(run!.outputTokens).toBeGreaterThan(0);
    expect(run!.inputTokens).toBeGreaterThan(0);
    expect(run!.costUsd).toBeGreaterThan(0);
    expect(run!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(run!.output)).toMatchObject({ text: expect.any(String) });
    expect(node).toMatchObject({ evaluationId: `${r.runId}:answer`, nodeId: 'answer' });
    expect(JSON.parse(node!.output).text).toBe(JSON.parse(run!.output).text);
    await engine.shutdown();
  });
});

describe('decisions', () => {
  it('no policy, no experiment: version 0, no variant, no overrides', () => {
    const loop = createLoop();
    expect(loop.decide({ topology: plain, version: 'v', runId: 'r', tenant: undefined, user: undefined, input: {} })).toEqual({ policyVersion: 0, evaluate: true });
  });

  it('a policy swaps the model and parameters; weights move traffic; a new version is used by new runs only', () => {
    const loop = createLoop({ topologies: [abTopology()] });
    const t = abTopology();
    const ask = (user: string) => loop.decide({ topology: t, version: 'v', runId: user, tenant: undefined, user, input: {} })!;
    expect(ask('u1').policyVersion).toBe(0);
    const r = loop.applyPolicy({ policyId: 'p', version: 1, target: 'ab', params: { nodes: '{"answer":{"temperature":0.2}}', variants: '{"control":0,"b":1}' }, reason: 'test', ts: 0 });
    expect(r.ok).toBe(true);
    for (let i = 0; i < 50; i++) {
      const d = ask(`u${i}`);
      expect(d).toMatchObject({ policyVersion: 1, variant: 'b', overrides: { answer: { model: 'sim:b', temperature: 0.2 } } });
    }
    expect(loop.policies('ab')).toHaveLength(1);
  });

  it('rollback makes an earlier document current as a new version; a redelivered update is a duplicate; a stale one is refused', () => {
    const loop = createLoop({ topologies: [plain] });
    const events: LoopEvent[] = [];
    loop.events$.subscribe((e) => events.push(e));
    const u1 = { policyId: 'p', version: 1, target: 'plain', params: { nodes: '{"answer":{"temperature":0.1}}' }, reason: null, ts: 0 };
    const u2 = { ...u1, version: 2, params: { nodes: '{"answer":{"temperature":0.9}}' } };
    loop.applyPolicy(u1);
    loop.applyPolicy(u2);
    expect(loop.applyPolicy(u2)).toMatchObject({ ok: true, duplicate: true });
    expect(loop.applyPolicy(u1).ok).toBe(false);
    const r = loop.rollback('plain');
    expect(r).toMatchObject({ ok: true, policy: { version: 3, document: { nodes: { answer: { temperature: 0.1 } } } } });
    expect(loop.decide({ topology: plain, version: 'v', runId: 'r', tenant: undefined, user: undefined, input: {} })).toMatchObject({ policyVersion: 3, overrides: { answer: { temperature: 0.1 } } });
    expect(events.map((e) => e.type)).toEqual(['policy.applied', 'policy.applied', 'policy.rejected', 'policy.rolled_back']);
    expect(events.at(-1)).toMatchObject({ version: 3, previous: 2 });
    expect(loop.rollback('nothing').ok).toBe(false);
  });

  it('refuses an update naming a node the topology lacks; the current version stays', () => {
    const loop = createLoop({ topologies: [plain] });
    const events: LoopEvent[] = [];
    loop.events$.subscribe((e) => events.push(e));
    const r = loop.applyPolicy({ policyId: 'p', version: 1, target: 'plain', params: { nodes: '{"nope":{"temperature":0.2}}' }, reason: null, ts: 0 });
    expect(r.ok).toBe(false);
    expect(loop.policies('plain')).toEqual([]);
    expect(events).toEqual([expect.objectContaining({ type: 'policy.rejected', topology: 'plain' })]);
  });

  it('experience records carry the arm, the quality, the cost and the reward', () => {
    const loop = createLoop({ seed: 3 });
    const xs: ExperienceMessage[] = [];
    loop.experience$.subscribe((x) => xs.push(x));
    loop.applyPolicy({
      policyId: 'p', version: 1, target: 'plain', reason: null, ts: 0,
      params: { bandits: JSON.stringify({ answer: { arms: { a: { model: 'sim:a' }, b: { model: 'sim:b' } }, metric: 'q', costWeight: 10, rewards: 'gaussian' } }) },
    });
    const d = loop.decide({ topology: plain, version: 'v', runId: 'r1', tenant: undefined, user: 'u', input: { q: 'x' } })!;
    expect(Object.keys(d.arms ?? {})).toEqual(['answer']);
    const arm = d.arms!['answer']!;
    expect(d.overrides?.['answer']?.model).toBe(`sim:${arm}`);
    loop.ended(summary('r1', { decision: d, user: 'u', input: { q: 'x' }, usage: { inputTokens: 1, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0, costUsd: 0.01, calls: 1 } }));
    expect(loop.feedback(fb('r1', 1, { metric: 'other' }))).toBe('joined');
    expect(xs).toHaveLength(0);
    loop.feedback(fb('r1', 1));
    expect(xs).toEqual([expect.objectContaining({ runId: 'r1', topology: 'plain', decision: 'answer', arm, metric: 'q', quality: 1, costUsd: 0.01 })]);
    expect(xs[0]!.reward).toBeCloseTo(0.9);
    expect(JSON.parse(xs[0]!.context)).toMatchObject({ policyVersion: 1, user: 'u', input: { q: 'x' } });
    expect(loop.bandits()).toEqual([expect.objectContaining({ topology: 'plain', decision: 'answer' })]);
  });

  it('one bandit: runs drawing the same arm share one frozen decision part; the arm\'s settings are merged over the variant\'s', () => {
    const loop = createLoop({ seed: 3 });
    loop.applyPolicy({
      policyId: 'p', version: 1, target: 'plain', reason: null, ts: 0,
      params: { nodes: '{"answer":{"temperature":0.1}}', bandits: JSON.stringify({ answer: { arms: { a: { model: 'sim:a' }, b: { model: 'sim:b' } }, metric: 'q' } }) },
    });
    const ds = Array.from({ length: 40 }, (_, i) => loop.decide({ topology: plain, version: 'v', runId: `r${i}`, tenant: undefined, user: undefined, input: undefined })!);
    const byArm = new Map(ds.map((d) => [d.arms!['answer']!, d]));
    expect([...byArm.keys()].sort()).toEqual(['a', 'b']);
    for (const d of ds) {
      const first = byArm.get(d.arms!['answer']!)!;
      expect([d.overrides === first.overrides, d.arms === first.arms, Object.isFrozen(d.overrides), Object.isFrozen(d.arms)]).toEqual([true, true, true, true]);
    }
    expect(byArm.get('b')!.overrides).toEqual({ answer: { temperature: 0.1, model: 'sim:b' } });
  });
});
