import { firstValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import { isRejectedError } from '../errors.ts';
import { createEngine } from './engine.ts';
import type { EngineEvent } from './events.ts';
import type { RunDecision, RunLoop, RunSummary } from './loop.ts';
import { createMemoryStore } from '../stores/memory.ts';
import { crashingStore, until } from '../../test/durable/helpers.ts';

const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:default', prompt: ({ input }) => input.q })
  .route('pick', { after: ['answer'], branches: { a: ['x'], b: ['y'] }, select: (ctx) => (ctx.variant === 'b' ? 'b' : 'a') })
  .map('x', { after: ['pick'], run: () => 'x' })
  .map('y', { after: ['pick'], run: () => 'y' })
  .build({ output: 'answer' });

function fakeLoop(decision: (n: number) => RunDecision | undefined): RunLoop & { summaries: RunSummary[]; asked: number } {
  const loop = {
    asked: 0,
    summaries: [] as RunSummary[],
    decide: () => decision(loop.asked++),
    ended: (s: RunSummary) => void loop.summaries.push(s),
    stats: () => [],
  };
  return loop;
}

describe('engine with a loop', () => {
  it('applies the decision: overrides reach the llm node, ctx.variant the route; every event and the result carry it', async () => {
    const summaries: RunSummary[] = [];
    const loop: RunLoop = {
      decide: (req) => ({ variant: req.user === 'u2' ? 'b' : 'a', policyVersion: 3, overrides: { answer: { model: 'sim:other', temperature: 0.1 } }, evaluate: true }),
      ended: (s) => void summaries.push(s),
      stats: () => [{ topology: 'qa', variant: 'a', model: 'sim:other', metric: 'm', count: 1, mean: 1, variance: 0, window: { count: 1, mean: 1, variance: 0 } }],
    };
    const engine = createEngine({ loop });
    const seen: EngineEvent[] = [];
    engine.events$.subscribe((e) => seen.push(e));
    const r = await engine.run(qa, { q: 'hello' }, { user: 'u2', tenant: 't1' });
    expect(r.status).toBe('completed');
    expect(r.decision?.variant).toBe('b');
    expect(r.outputs.pick).toBe('b');
    expect(r.skipped).toEqual(['x']);
    const runEvents = seen.filter((e) => 'seq' in e);
    expect(runEvents.length).toBeGreaterThan(5);
    for (const e of runEvents) expect(e).toMatchObject({ variant: 'b', policyVersion: 3 });
    expect(runEvents[0]).toMatchObject({ type: 'run.started', decision: { variant: 'b' } });
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ runId: r.runId, topology: 'qa', status: 'completed', user: 'u2', tenant: 't1', models: { answer: 'sim:other' }, input: { q: 'hello' } });
    expect(summaries[0]!.usage?.calls).toBe(1);
    expect(engine.stats()).toHaveLength(1);
    await engine.shutdown();
  });

  it("a run's own overrides win over the decision's, node by node", async () => {
    const loop = fakeLoop(() => ({ overrides: { answer: { model: 'sim:other', system: 'S' } } }));
    const engine = createEngine({ loop });
    const r = await engine.run(qa, { q: 'hi' }, { overrides: { answer: { model: 'sim:default' } } });
    expect(r.status).toBe('completed');
    expect(loop.summaries[0]!.models).toEqual({ answer: 'sim:default' });
    await engine.shutdown();
  });

  it('summaries: runs of one decision that answered without a fallback share one frozen models record; costUsd without a usage copy', async () => {
    const overrides = { answer: { model: 'sim:other' } };
    const loop = fakeLoop((n) => (n < 2 ? { overrides } : { overrides: { answer: { model: ['sim:broken', 'sim:default'] } } }));
    const engine = createEngine({ loop });
    for (let i = 0; i < 3; i++) expect((await engine.run(qa, { q: `q${i}` })).status).toBe('completed');
    const [a, b, c] = loop.summaries;
    expect([a!.models === b!.models, Object.isFrozen(a!.models), a!.models]).toEqual([true, true, { answer: 'sim:other' }]);
    expect(c!.models).toEqual({ answer: 'sim:broken' });
    expect(a!.costUsd).toBe(a!.usage?.costUsd);
    await engine.shutdown();
  });

  it('a loop that throws fails the run with LOOP_FAILED; an engine without a loop has no stats', async () => {
    const loop: RunLoop = { decide: () => { throw new Error('boom'); }, ended: () => undefined, stats: () => [] };
    const engine = createEngine({ loop });
    const r = await engine.run(qa, { q: 'hi' });
    expect(r.status).toBe('failed');
    expect(isRejectedError(r.error) && r.error.code).toBe('LOOP_FAILED');
    expect(createEngine().stats()).toEqual([]);
    await engine.shutdown();
  });

  it('a recovered run keeps its stored decision; the loop is not asked again', async () => {
    const base = createMemoryStore();
    const crashed = crashingStore(base, 3);
    const first = fakeLoop(() => ({ variant: 'b', policyVersion: 7, overrides: { answer: { model: 'sim:other' } } }));
    const e1 = createEngine({ store: crashed, loop: first, durable: { owner: 'elsewhere:1:a', leaseMs: 1_000 } });
    void e1.run(qa, { q: 'hi' }, { runId: 'k1' });
    await until(() => crashed.crashed);
    const second = fakeLoop(() => ({ variant: 'a', policyVersion: 8 }));
    const e2 = createEngine({ store: base, loop: second, topologies: [qa], durable: { now: () => Date.now() + 3_600_000 } });
    const report = await e2.recover();
    const [r] = await firstValueFrom(report.results.pipe(toArray()));
    expect(r?.status).toBe('completed');
    expect(r?.decision).toMatchObject({ variant: 'b', policyVersion: 7 });
    expect(r?.outputs.pick).toBe('b');
    expect(second.asked).toBe(0);
    expect(second.summaries[0]?.models).toEqual({ answer: 'sim:other' });
    const versions = new Set((await base.history('k1')).map((e) => e['policyVersion']));
    expect([...versions]).toEqual([7]);
    await e2.shutdown();
  });
});
