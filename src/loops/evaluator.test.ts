import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { topology } from '../builder/builder.ts';
import { isValidationError } from '../errors.ts';
import { plain, simEngine } from '../../test/loops/helpers.ts';
import { attachEvaluator, attachJudge } from './evaluator.ts';
import { createLoop } from './loop.ts';

// Waits for a condition by polling (the judges and the simulated model settle asynchronously); a
// fixed number of event-loop turns was not enough on a loaded machine.
const until = (cond: () => boolean): Promise<void> => vi.waitFor(() => expect(cond()).toBe(true), { timeout: 10_000, interval: 2 });

describe('attachEvaluator', () => {
  it('a sync function judges each sampled run as it ends; its feedback joins', async () => {
    const loop = createLoop();
    const engine = simEngine(loop);
    const h = attachEvaluator(loop, (req) => [{ metric: 'long', score: req.outputTokens > 4 ? 1 : 0 }, { metric: 'ok', score: 1, label: 'pass' }], { source: 'rules' });
    for (let i = 0; i < 5; i++) await engine.run(plain, { q: `question ${i}` });
    expect(h.stats()).toMatchObject({ requests: 5, judged: 5, feedback: 10, errors: 0, outcomes: { joined: 10 } });
    expect(loop.stats().map((r) => [r.metric, r.count])).toEqual([['long', 5], ['ok', 5]]);
    h.stop();
    await engine.run(plain, { q: 'after stop' });
    expect(h.stats().requests).toBe(5);
    await engine.shutdown();
  });

  it('async judgements with bounded concurrency; throws, rejections and non-judgements are counted, never thrown', async () => {
    const loop = createLoop();
    const engine = simEngine(loop);
    let active = 0;
    let peak = 0;
    let n = 0;
    const h = attachEvaluator(loop, async () => {
      const i = n++;
      if (i === 0) throw new Error('judge down');
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setImmediate(r));
      active--;
      if (i === 1) return { metric: '', score: 1 };
      if (i === 2) return { metric: 'q', score: Number.NaN };
      return { metric: 'q', score: 1 };
    }, { concurrency: 2 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => engine.run(plain, { q: `q${i}` })));
    await until(() => h.stats().inFlight === 0 && h.stats().requests === 10 && h.stats().feedback + h.stats().errors === 10);
    expect(h.stats()).toMatchObject({ requests: 10, errors: 3, feedback: 7, outcomes: { joined: 7 } });
    expect(h.stats().lastError).toEqual(expect.any(String));
    expect(peak).toBeLessThanOrEqual(2);
    h.stop();
    await engine.shutdown();
  });

  it('bad options name the field', () => {
    const loop = createLoop();
    let err: unknown;
    try {
      attachEvaluator(loop, () => undefined, { concurrency: 0 });
    } catch (e) {
      err = e;
    }
    expect(isValidationError(err) && err.issues[0]?.path).toEqual(['options', 'concurrency']);
  });
});

describe('attachJudge', () => {
  const judge = topology('judge', { input: z.object({ input: z.unknown(), output: z.unknown() }) })
    .llm('verdict', { model: 'sim:fast', prompt: ({ input }) => `Grade this answer: ${JSON.stringify(input.output)}`, maxTokens: 6 })
    .build({ output: 'verdict' });

  it('runs a judge topology (LLM-as-judge on the simulated model) per request and feeds its score back; skips its own runs', async () => {
    const loop = createLoop();
    const engine = simEngine(loop);
    const h = attachJudge(loop, engine, judge, { metric: 'judge', score: (out) => ((out as { text: string }).text.length > 10 ? 1 : 0), concurrency: 4 });
    for (let i = 0; i < 6; i++) await engine.run(plain, { q: `question number ${i}` });
    await until(() => h.stats().feedback === 6);
    expect(h.stats()).toMatchObject({ requests: 6, feedback: 6, errors: 0, outcomes: { joined: 6 } });
    expect(h.stats().skipped).toBe(6);
    expect(loop.stats()).toEqual([expect.objectContaining({ topology: 'plain', metric: 'judge', count: 6, model: 'sim:a' })]);
    h.stop();
    await engine.shutdown();
  });

  it('a failing judge run or score is an error on the handle', async () => {
    const loop = createLoop();
    const engine = simEngine(loop);
    const h = attachJudge(loop, engine, judge, { metric: 'judge', score: () => Number.NaN, input: () => ({ input: 1, output: 2 }) });
    const bad = attachJudge(loop, engine, judge, { metric: 'judge', score: () => 1, input: () => 'not an object' });
    await engine.run(plain, { q: 'hello' });
    await until(() => h.stats().errors === 1 && bad.stats().errors === 1);
    expect(h.stats().feedback + bad.stats().feedback).toBe(0);
    h.stop();
    bad.stop();
    await engine.shutdown();
  });
});
