import { describe, expect, it } from 'vitest';
import { createRandom, mulberry32 } from './random.ts';
import { issuePaths } from '../../test/support/helpers.ts';

/** Mean and sample variance of `n` draws. */
function moments(n: number, draw: () => number): { mean: number; variance: number } {
  let mean = 0;
  let m2 = 0;
  for (let i = 1; i <= n; i++) {
    const x = draw();
    const d = x - mean;
    mean += d / i;
    m2 += d * (x - mean);
  }
  return { mean, variance: m2 / (n - 1) };
}

describe('mulberry32', () => {
  it('gives the known sequence for a seed (the simulated provider depends on it)', () => {
    const next = mulberry32(42);
    expect([next(), next(), next()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const zero = mulberry32(0);
    expect([zero(), zero()]).toEqual([0.26642920868471265, 0.0003297457005828619]);
  });

  it('stays in [0, 1)', () => {
    const next = mulberry32(3);
    let outside = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = next();
      if (!(x >= 0 && x < 1)) outside++;
    }
    expect(outside).toBe(0);
  });
});

describe('createRandom', () => {
  it('next() is the mulberry32 sequence of the seed', () => {
    const r = createRandom(42);
    const ref = mulberry32(42);
    for (let i = 0; i < 100; i++) expect(r.next()).toBe(ref());
  });

  it('is deterministic per seed and differs between seeds', () => {
    const draw = (seed: number) => {
      const r = createRandom(seed);
      return [r.next(), r.normal(), r.gamma(0.7), r.gamma(4), r.beta(2, 3), r.normal(1, 2)];
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });

  it('normal(mean, sd) has that mean and standard deviation', () => {
    const r = createRandom(11);
    const m = moments(40_000, () => r.normal(3, 2));
    expect(m.mean).toBeCloseTo(3, 1);
    expect(Math.sqrt(m.variance)).toBeCloseTo(2, 1);
    const s = moments(40_000, () => r.normal());
    expect(Math.abs(s.mean)).toBeLessThan(0.03);
    expect(Math.abs(s.variance - 1)).toBeLessThan(0.03);
  });

  it.each([0.3, 0.5, 1, 2.5, 9])('gamma(%s) has mean and variance equal to its shape', (shape) => {
    const r = createRandom(17);
    const m = moments(40_000, () => r.gamma(shape));
    expect(Math.abs(m.mean - shape) / shape).toBeLessThan(0.03);
    expect(Math.abs(m.variance - shape) / shape).toBeLessThan(0.08);
  });

  it('gamma draws are positive, also for shapes below one', () => {
    const r = createRandom(2);
    let negative = 0;
    for (let i = 0; i < 5_000; i++) if (!(r.gamma(0.2) >= 0)) negative++;
    expect(negative).toBe(0);
  });

  it('gamma and beta reject shapes that are not positive, naming them', () => {
    const r = createRandom(1);
    const paths = issuePaths;
    expect(paths(() => r.gamma(0))).toEqual(['shape']);
    expect(paths(() => r.gamma(Number.NaN))).toEqual(['shape']);
    expect(paths(() => r.beta(-1, 2))).toEqual(['a']);
    expect(paths(() => r.beta(1, Number.POSITIVE_INFINITY))).toEqual(['b']);
  });

  it.each([
    [1, 1],
    [2, 5],
    [0.5, 0.5],
    [30, 10],
  ])('beta(%s, %s) lies in [0, 1] with mean a / (a + b)', (a, b) => {
    const r = createRandom(23);
    let ok = true;
    const m = moments(30_000, () => {
      const x = r.beta(a, b);
      if (!(x >= 0 && x <= 1)) ok = false;
      return x;
    });
    expect(ok).toBe(true);
    const mean = a / (a + b);
    const variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    expect(Math.abs(m.mean - mean)).toBeLessThan(0.01);
    expect(Math.abs(m.variance - variance) / variance).toBeLessThan(0.08);
  });
});
