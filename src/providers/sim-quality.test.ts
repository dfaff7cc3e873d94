// The simulated provider's quality knob: on the task's questions a model of quality q answers right
// on a share q of prompts (within ±3 % over 2,000), deterministically, and the simulated judge agrees.
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createSimProvider, SIM_MODELS } from './sim.ts';
import { parseSimQuestion, simAnswer, simJudge, simQuestion, SIM_QUALITY_MODELS } from './sim-quality.ts';
import { createModels } from './models.ts';
import type { ProviderEvent } from './types.ts';

const textOf = (events: ProviderEvent[]): string => events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');

/** 2,000 distinct questions from a fixed linear congruential sequence. */
function questions(count: number): string[] {
  let a = 11;
  const next = (): number => (a = (a * 1103515245 + 12345) >>> 0) % 1000;
  return Array.from({ length: count }, () => simQuestion(next(), next()));
}

async function ask(model: string, prompt: string, seed?: number): Promise<string> {
  const sim = createSimProvider();
  return textOf(await lastValueFrom(sim.stream({ model, messages: [{ role: 'user', content: prompt }], ...(seed === undefined ? {} : { seed }) }).pipe(toArray())));
}

describe('simulated task', () => {
  it('parses and builds questions; the judge scores the last integer of an answer', () => {
    expect(simQuestion(37, 45)).toBe('What is 37 + 45?');
    expect(parseSimQuestion('Solve this. What is -3 + 10? Thanks')).toEqual([-3, 10]);
    expect(parseSimQuestion('What is backpressure?')).toBeUndefined();
    expect(simJudge({ question: 'What is 37 + 45?' }, '37 + 45 = 82.')).toBe(1);
    expect(simJudge('What is 37 + 45?', '37 + 45 = 81.')).toBe(0);
    expect(simJudge(JSON.stringify({ question: 'What is 37 + 45?' }), JSON.stringify('The sum is 82'))).toBe(1);
    expect(simJudge('no question', '82')).toBe(0);
    expect(simJudge('What is 1 + 1?', { text: 'none' })).toBe(0);
    // an llm node's output, as a value and as the JSON text of an evaluation request: its text counts, not its usage
    const out = { text: '1 + 2 = 3.', usage: { inputTokens: 12, outputTokens: 5 }, costUsd: 0.00001 };
    expect(simJudge('{"question":"What is 1 + 2?"}', out)).toBe(1);
    expect(simJudge('{"question":"What is 1 + 2?"}', JSON.stringify(out))).toBe(1);
    expect(simJudge('What is 1 + 2?', JSON.stringify({ ...out, text: '1 + 2 = 4.' }))).toBe(0);
    expect(simJudge('What is 1 + 2?', '3')).toBe(1);
    expect(simJudge('What is 1 + 2?', '{not json 3')).toBe(1);
  });

  it('quality 1 always answers right; quality 0 never does, with a plausible sum (off by 1 to 10)', () => {
    for (const q of questions(500)) {
      const [a, b] = parseSimQuestion(q)!;
      expect(simAnswer(q, 1, 42)).toBe(`${a} + ${b} = ${a + b}.`);
      const wrong = simAnswer(q, 0, 42)!;
      const off = Number(/= (-?\d+)\.$/.exec(wrong)![1]) - (a + b);
      expect(Math.abs(off)).toBeGreaterThanOrEqual(1);
      expect(Math.abs(off)).toBeLessThanOrEqual(10);
      expect(simJudge(q, wrong)).toBe(0);
    }
    expect(simAnswer('What is backpressure?', 1, 42)).toBeUndefined();
  });

  it('accuracy over 2,000 questions is within ±3 % of the quality, for several qualities and seeds', () => {
    const qs = questions(2000);
    for (const seed of [1, 42, 777]) {
      for (const quality of [0.1, 0.55, 0.8, 0.9, 0.93]) {
        const right = qs.filter((q) => simJudge(q, simAnswer(q, quality, seed))).length / qs.length;
        expect(Math.abs(right - quality), `quality ${quality} seed ${seed}: ${right}`).toBeLessThanOrEqual(0.03);
      }
    }
  });

  it('is deterministic, and a better model is right wherever a worse one is', () => {
    const qs = questions(2000);
    const run = (quality: number): string[] => qs.map((q) => simAnswer(q, quality, 42)!);
    expect(run(0.8)).toEqual(run(0.8));
    const small = run(0.55);
    const large = run(0.93);
    qs.forEach((q, i) => {
      if (simJudge(q, small[i])) expect(simJudge(q, large[i])).toBe(1);
    });
  });
});

describe('simulated provider with the quality knob', () => {
  it('the built-in models small, medium and large answer the task with their quality', async () => {
    expect(SIM_MODELS['small']?.quality).toBe(0.55);
    expect(SIM_MODELS['medium']?.quality).toBe(0.9);
    expect(SIM_MODELS['large']?.quality).toBe(0.93);
    const qs = questions(2000);
    for (const [model, spec] of Object.entries(SIM_QUALITY_MODELS)) {
      let right = 0;
      for (const q of qs) right += simJudge(q, await ask(model, `Answer with the sum only. ${q}`));
      expect(Math.abs(right / qs.length - spec.quality), model).toBeLessThanOrEqual(0.03);
    }
  });

  it('answers the same prompt and seed the same way; other prompts still get prose', async () => {
    const q = simQuestion(123, 456);
    expect(await ask('small', q, 5)).toBe(await ask('small', q, 5));
    expect(await ask('fast', q)).toBe('123 + 456 = 579.');
    const prose = await ask('fast', 'Explain backpressure in one sentence.');
    expect(prose.split(' ').length).toBeGreaterThan(10);
  });

  it('a custom model gets a quality; a scripted respond wins over the task', async () => {
    const sim = createSimProvider({ models: { never: { ttftMs: 0, tokenMs: 0, quality: 0 } } });
    const q = simQuestion(2, 2);
    const out = textOf(await lastValueFrom(sim.stream({ model: 'never', messages: [{ role: 'user', content: q }] }).pipe(toArray())));
    expect(simJudge(q, out)).toBe(0);
    const scripted = createSimProvider({ respond: () => '4' });
    expect(textOf(await lastValueFrom(scripted.stream({ model: 'small', messages: [{ role: 'user', content: q }] }).pipe(toArray())))).toBe('4');
  });

  it('prices make sim:medium a fifth of sim:large and five times sim:small', () => {
    const models = createModels();
    const usage = { inputTokens: 20, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0 };
    const [s, m, l] = ['sim:small', 'sim:medium', 'sim:large'].map((r) => models.cost(r, usage));
    expect(m! / l!).toBeCloseTo(0.2, 10);
    expect(m! / s!).toBeCloseTo(5, 10);
  });
});
