import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.ts';
import { canaryRule, createCanary, type CanaryStep } from './canary.ts';
import { createRegressionTest } from './regression.ts';
import type { Moments, RegressionRule, RegressionTest, RegressionVerdict } from './types.ts';

/** A tiny stand-in: regressed once each side has 3 scores and the treatment's mean is 0.3 below control's (sticky until reset). */
function fakeTest(): RegressionTest & { seen: ['control' | 'treatment', number][] } {
  const sides = { control: [] as number[], treatment: [] as number[] };
  const moments = (xs: number[]): Moments => ({ count: xs.length, mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0, variance: 0 });
  let regressed = false;
  const seen: ['control' | 'treatment', number][] = [];
  const rule: RegressionRule = { metric: 'correct' };
  return {
    rule,
    seen,
    observe(group, value): RegressionVerdict {
      seen.push([group, value]);
      sides[group].push(value);
      const c = moments(sides.control);
      const t = moments(sides.treatment);
      if (!regressed && c.count >= 3 && t.count >= 3 && t.mean < c.mean - 0.3) regressed = true;
      return regressed ? { regressed: true, mean: t.mean, controlMean: c.mean, count: t.count, controlCount: c.count } : { regressed: false };
    },
    get control() { return moments(sides.control); },
    get treatment() { return moments(sides.treatment); },
    reset() { sides.control = []; sides.treatment = []; regressed = false; },
  };
}

const spec = { percent: 10, step: 30, everyRuns: 5, metric: 'correct' };
let clock = 0;
const make = (over: Partial<typeof spec> = {}, test = fakeTest()) => createCanary({ spec: { ...spec, ...over }, version: 4, baseline: 3, test, now: () => clock });

function feed(canary: ReturnType<typeof make>, version: number, score: number, n: number): CanaryStep[] {
  const steps: CanaryStep[] = [];
  for (let i = 0; i < n; i++) {
    const s = canary.observe(version, score);
    if (s) steps.push(s);
  }
  return steps;
}

describe('createCanary', () => {
  it('starts at the spec share and sends runs whose bucket is below it to the canary', () => {
    clock = 5;
    const c = make();
    expect(c.percent).toBe(10);
    expect(c.last).toEqual({ phase: 'started', percent: 10, version: 4, baseline: 3, ts: 5 });
    expect(c.done).toBe(false);
    expect(c.pick(0)).toBe(4);
    expect(c.pick(0.0999)).toBe(4);
    expect(c.pick(0.1)).toBe(3);
    expect(c.pick(0.99)).toBe(3);
  });

  it('feeds baseline runs to control and canary runs to treatment', () => {
    const test = fakeTest();
    const c = make({}, test);
    c.observe(3, 0.9);
    c.observe(4, 0.8);
    c.observe(7, 0.1); // another version: not the canary's business
    expect(test.seen).toEqual([['control', 0.9], ['treatment', 0.8]]);
    expect(c.counts()).toEqual({ control: 1, treatment: 1, sinceStep: 1, ignored: 1, invalid: 0 });
  });

  it('grows by a step after every everyRuns evaluated canary runs without regression', () => {
    clock = 10;
    const c = make();
    feed(c, 3, 0.8, 20); // baseline runs never step
    expect(feed(c, 4, 0.8, 4)).toEqual([]);
    const [grown] = feed(c, 4, 0.8, 1);
    expect(grown).toEqual({ phase: 'grown', percent: 40, version: 4, baseline: 3, reason: '5 evaluated canary runs without regression', ts: 10 });
    expect(c.percent).toBe(40);
    expect(c.pick(0.35)).toBe(4);
    expect(c.counts().sinceStep).toBe(0);
    expect(feed(c, 4, 0.8, 5).map((s) => [s.phase, s.percent])).toEqual([['grown', 70]]);
  });

  it('is promoted when the share reaches 100 (capped), then changes no more', () => {
    const c = make({ percent: 50, step: 40 });
    expect(feed(c, 4, 0.8, 10).map((s) => [s.phase, s.percent])).toEqual([['grown', 90], ['promoted', 100]]);
    expect(c.done).toBe(true);
    expect(c.pick(0.999)).toBe(4);
    expect(feed(c, 4, 0, 10)).toEqual([]);
    expect(c.counts().ignored).toBe(10);
  });

  it('is promoted at once when the spec gives it everything', () => {
    const c = make({ percent: 100 });
    expect(c.last.phase).toBe('promoted');
    expect(c.done).toBe(true);
  });

  it('rolls back on a regression verdict: share 0, every run on the baseline', () => {
    clock = 20;
    const c = make();
    feed(c, 3, 0.9, 3);
    expect(feed(c, 4, 0.5, 2)).toEqual([]);
    const [rolled] = feed(c, 4, 0.5, 1);
    expect(rolled).toEqual({
      phase: 'rolled_back', percent: 0, version: 4, baseline: 3, ts: 20,
      reason: 'correct: mean 0.5 over 3 canary runs vs 0.9 over 3 baseline runs',
    });
    expect(c.percent).toBe(0);
    expect(c.done).toBe(true);
    expect(c.pick(0)).toBe(3);
    expect(feed(c, 4, 1, 20)).toEqual([]);
  });

  it('rolls back when a baseline score completes the evidence, and after growing', () => {
    const c = make();
    expect(feed(c, 4, 0.4, 5).map((s) => s.phase)).toEqual(['grown']);
    feed(c, 3, 0.9, 2);
    expect(feed(c, 3, 0.9, 1)).toMatchObject([{ phase: 'rolled_back', percent: 0 }]);
  });

  it('refuses non-finite scores (counted) and bad options', () => {
    const c = make();
    expect(c.observe(4, Number.NaN)).toBe(undefined);
    expect(c.counts()).toMatchObject({ invalid: 1, treatment: 0 });
    const paths = (o: unknown) => {
      try { createCanary(o as Parameters<typeof createCanary>[0]); } catch (e) { return isValidationError(e) ? e.issues.map((i) => i.path.join('.')) : ['not a validation error']; }
      return [];
    };
    expect(paths({ spec: { ...spec, step: 0 }, version: 4, baseline: 3, test: fakeTest() })).toEqual(['options.spec.step']);
    expect(paths({ spec, version: 3, baseline: 3, test: fakeTest() })).toEqual(['options.baseline']);
    expect(paths({ spec, version: 4, baseline: 3, test: {} })).toEqual(['options.test']);
  });

  it('with the real sequential test: a good canary is promoted, a clearly worse one rolled back', () => {
    // Binary scores in a fixed pattern: the baseline is right 8 times in 10; the good canary too, the bad one 3 in 10.
    const score = (rate: number, i: number) => ((i * 7) % 10 < rate * 10 ? 1 : 0);
    const run = (rate: number) => {
      const spec = { percent: 10, step: 30, everyRuns: 40, metric: 'correct', test: { minSamples: 30 } };
      expect(canaryRule(spec)).toEqual({ metric: 'correct', minSamples: 30 });
      const c = createCanary({ spec, version: 2, baseline: 1, test: createRegressionTest(canaryRule(spec)), now: () => 0 });
      const steps: string[] = [];
      for (let i = 0; i < 400 && !c.done; i++) {
        for (const s of [c.observe(1, score(0.8, i)), c.observe(2, score(rate, i))]) if (s) steps.push(s.phase);
      }
      return { steps, percent: c.percent };
    };
    expect(run(0.8)).toEqual({ steps: ['grown', 'grown', 'promoted'], percent: 100 });
    const bad = run(0.3);
    expect(bad.steps.at(-1)).toBe('rolled_back');
    expect(bad.percent).toBe(0);
  });
});
