import { describe, expect, it } from 'vitest';
import { createRandom, type Random } from '../primitives/random.ts';
import { createRegressionTest, logMixtureRatio } from './regression.ts';
import type { RegressionRule } from './types.ts';
import { issuePaths } from '../../test/support/helpers.ts';

type Draw = (r: Random, mean: number) => number;
const bernoulli: Draw = (r, p) => (r.next() < p ? 1 : 0);
const clippedNormal: Draw = (r, mean) => {
  const x = r.normal(mean, 0.15);
  return x < 0 ? 0 : x > 1 ? 1 : x;
};

/**
 * Feeds `perSide` scores to each side, alternating control and treatment, and returns the
 * number of treatment scores seen when the test first reported a regression (0 for never).
 */
function firstAlarm(rule: RegressionRule, draw: Draw, control: number, treatment: number, perSide: number, seed: number): number {
  const test = createRegressionTest(rule);
  const r = createRandom(seed);
  for (let i = 1; i <= perSide; i++) {
    if (test.observe('control', draw(r, control)).regressed) return i - 1;
    if (test.observe('treatment', draw(r, treatment)).regressed) return i;
  }
  return 0;
}

/** In how many of `replications` seeded streams the test raised an alarm within `perSide` scores per side. */
function alarms(rule: RegressionRule, draw: Draw, control: number, treatment: number, perSide: number, replications: number, seed: number): number {
  let n = 0;
  for (let k = 0; k < replications; k++) if (firstAlarm(rule, draw, control, treatment, perSide, seed + k) > 0) n++;
  return n;
}

describe('createRegressionTest: error rates under continuous monitoring', () => {
  const rule: RegressionRule = { metric: 'correct' };

  // measured: 0 / 200 (6 / 1000 over seeds 1..1000)
  it('A/A, Bernoulli 0.8: at most 1 % of 200 replications of 10,000 scores ever alarm', () => {
    expect(alarms(rule, bernoulli, 0.8, 0.8, 5_000, 200, 1)).toBeLessThanOrEqual(2);
  });

  // measured: 1 / 200 (9 / 1000 over seeds 1001..2000)
  it('A/A, Normal(0.7, 0.15) clipped to [0, 1]: at most 1 % of 200 replications of 10,000 scores ever alarm', () => {
    expect(alarms(rule, clippedNormal, 0.7, 0.7, 5_000, 200, 1_001)).toBeLessThanOrEqual(2);
  });

  // measured: 200 / 200 (1000 / 1000)
  it('detects a 20 % worse Normal treatment (0.7 vs 0.56) within 300 treatment scores in at least 95 % of 200 replications', () => {
    expect(alarms(rule, clippedNormal, 0.7, 0.56, 300, 200, 3_001)).toBeGreaterThanOrEqual(190);
  });

  // A 20 % drop of a Bernoulli 0.8 is 0.36 standard deviations: even a sequential test that knows
  // the effect and the variance (the SPRT for exactly 0.8 vs 0.64) finds it within 300 only 93 % of
  // the time at alpha 0.01. measured: 183 / 200 (908 / 1000)
  it('detects a 20 % worse Bernoulli treatment (0.8 vs 0.64) within 300 treatment scores in at least 85 % of 200 replications at alpha 0.01', () => {
    expect(alarms(rule, bernoulli, 0.8, 0.64, 300, 200, 2_001)).toBeGreaterThanOrEqual(170);
  });

  // measured: detection 197 / 200 (969 / 1000), A/A alarms 3 / 200 (35 / 1000)
  it('at alpha 0.05 detects the Bernoulli drop within 300 in at least 95 % of 200 replications, and its A/A alarm rate stays under 5 %', () => {
    const loose: RegressionRule = { metric: 'correct', alpha: 0.05 };
    expect(alarms(loose, bernoulli, 0.8, 0.64, 300, 200, 2_001)).toBeGreaterThanOrEqual(190);
    expect(alarms(loose, bernoulli, 0.8, 0.8, 5_000, 200, 1)).toBeLessThanOrEqual(10);
  });

  /** Like {@link alarms}, but each run goes to the treatment with probability `share` (a canary). */
  function canaryAlarms(treatment: number, runs: number, share: number, replications: number, seed: number): number {
    let n = 0;
    for (let k = 0; k < replications; k++) {
      const test = createRegressionTest(rule);
      const r = createRandom(seed + k);
      for (let i = 0; i < runs; i++) {
        const toTreatment = r.next() < share;
        if (test.observe(toTreatment ? 'treatment' : 'control', bernoulli(r, toTreatment ? treatment : 0.8)).regressed) {
          n++;
          break;
        }
      }
    }
    return n;
  }

  // A small treatment sample of a skewed score (Bernoulli 0.8 has a long tail towards 0) is where
  // a pooled variance alone raised 1.4 % false alarms; the Welch guard brings it to 0.3 % (1000 seeds).
  // measured: 0 / 100
  it('A/A with a 5 % canary, Bernoulli 0.8: at most 1 % of 100 replications of 20,000 runs ever alarm', () => {
    expect(canaryAlarms(0.8, 20_000, 0.05, 100, 6_001)).toBeLessThanOrEqual(1);
  });

  // measured: 50 / 50
  it('a 5 % canary 20 % worse (Bernoulli 0.8 vs 0.64) is caught within 20,000 runs', () => {
    expect(canaryAlarms(0.64, 20_000, 0.05, 50, 7_001)).toBe(50);
  });

  it('never alarms when the treatment is better', () => {
    expect(alarms(rule, clippedNormal, 0.56, 0.7, 1_000, 20, 4_001)).toBe(0);
    expect(alarms(rule, bernoulli, 0.64, 0.8, 1_000, 20, 4_101)).toBe(0);
  });
});

describe('createRegressionTest: lower is better', () => {
  const latency: Draw = (r, mean) => Math.max(0, r.normal(mean, 20));
  const rule: RegressionRule = { metric: 'latency_ms', better: 'lower' };

  it('alarms when the treatment is higher (slower)', () => {
    expect(alarms(rule, latency, 100, 120, 300, 20, 5_001)).toBe(20);
  });

  it('does not alarm when the treatment is lower (faster), nor in an A/A', () => {
    expect(alarms(rule, latency, 120, 100, 1_000, 20, 5_101)).toBe(0);
    expect(alarms(rule, latency, 100, 100, 2_000, 20, 5_201)).toBe(0);
  });

  it('a higher-is-better test does not alarm on the slower treatment', () => {
    expect(alarms({ metric: 'latency_ms' }, latency, 100, 120, 300, 20, 5_001)).toBe(0);
  });
});

describe('createRegressionTest: gates and verdicts', () => {
  it('says nothing before both sides have minSamples scores', () => {
    const test = createRegressionTest({ metric: 'correct', minSamples: 30 });
    for (let i = 0; i < 100; i++) expect(test.observe('control', 1).regressed).toBe(false);
    for (let i = 1; i < 30; i++) expect(test.observe('treatment', 0).regressed).toBe(false);
    expect(test.observe('treatment', 0)).toEqual({ regressed: true, mean: 0, controlMean: 1, count: 30, controlCount: 100 });
  });

  it('ignores a significant drop smaller than minEffect', () => {
    const draw: Draw = (r, mean) => r.normal(mean, 0.05);
    // 2 % worse: certain with 20,000 scores a side, but below the default 5 %
    expect(firstAlarm({ metric: 'm' }, draw, 0.7, 0.686, 20_000, 1)).toBe(0);
    expect(firstAlarm({ metric: 'm', minEffect: 0.01 }, draw, 0.7, 0.686, 20_000, 1)).toBeGreaterThan(0);
  });

  it('stays regressed, with the current means, until reset', () => {
    const test = createRegressionTest({ metric: 'correct', minSamples: 2 });
    for (let i = 0; i < 50; i++) test.observe('control', 1);
    for (let i = 0; i < 50; i++) test.observe('treatment', 0);
    for (let i = 0; i < 50; i++) test.observe('treatment', 1);
    const v = test.observe('control', 1);
    expect(v).toMatchObject({ regressed: true, controlMean: 1, count: 100, controlCount: 51 });
    expect(v.regressed && v.mean).toBeCloseTo(0.5, 12);
    expect(test.treatment.count).toBe(100);
    expect(test.treatment.variance).toBeCloseTo(25 / 99, 12);
    test.reset();
    expect(test.control).toEqual({ count: 0, mean: 0, variance: 0 });
    expect(test.treatment).toEqual({ count: 0, mean: 0, variance: 0 });
    expect(test.observe('treatment', 0).regressed).toBe(false);
  });

  it('fills in the defaults of its rule', () => {
    expect(createRegressionTest({ metric: 'correct' }).rule).toEqual({
      metric: 'correct', action: 'alert', minSamples: 30, alpha: 0.01, minEffect: 0.05, better: 'higher',
    });
    expect(createRegressionTest({ metric: 'x', action: 'pause', better: 'lower', alpha: 0.05 }).rule).toMatchObject({ action: 'pause', better: 'lower', alpha: 0.05 });
  });

  it('validates its rule, naming the bad field', () => {
    expect(issuePaths(() => createRegressionTest({ metric: '' }))).toEqual(['rule.metric']);
    expect(issuePaths(() => createRegressionTest({ metric: 'm', alpha: 1 }))).toEqual(['rule.alpha']);
    expect(issuePaths(() => createRegressionTest({ metric: 'm', minSamples: 1 }))).toEqual(['rule.minSamples']);
    expect(issuePaths(() => createRegressionTest({ metric: 'm', minEffect: -0.1 }))).toEqual(['rule.minEffect']);
    expect(issuePaths(() => createRegressionTest({ metric: 'm', better: 'up' } as unknown as RegressionRule))).toEqual(['rule.better']);
    expect(issuePaths(() => createRegressionTest({ metric: 'm', action: 'stop' } as unknown as RegressionRule))).toEqual(['rule.action']);
  });

  it('rejects a score that is not finite, naming value, and a bad group, naming group', () => {
    const test = createRegressionTest({ metric: 'm' });
    expect(issuePaths(() => test.observe('control', Number.NaN))).toEqual(['value']);
    expect(issuePaths(() => test.observe('other' as 'control', 1))).toEqual(['group']);
    expect(test.control.count).toBe(0);
  });
});

describe('logMixtureRatio', () => {
  /** The one-sided mixture ratio by numerical integration (standardized: difference variance 1, mixing variance r). */
  function integrated(z: number, r: number): number {
    const sd = Math.sqrt(r);
    const step = sd / 2_000;
    let sum = 0;
    for (let t = step / 2; t < 12 * sd + Math.abs(z) * 2; t += step) {
      sum += Math.exp(t * z - (t * t) / 2) * 2 * Math.exp(-(t * t) / (2 * r)) / Math.sqrt(2 * Math.PI * r) * step;
    }
    return Math.log(sum);
  }

  it.each([
    [2, 5, 0.1],
    [3, 10, 0.02],
    [4, 20, 0.001],
    [5, 2, 0.01],
  ])('is a lower bound of the one-sided normal mixture, tight near alarm levels (z %s, r %s)', (z, r, slack) => {
    const exact = integrated(z, r);
    const bound = logMixtureRatio(z * z, r);
    expect(bound).toBeLessThanOrEqual(exact + 1e-6);
    expect(exact - bound).toBeLessThan(slack);
  });
});
