import { describe, expect, it } from 'vitest';
import type { ExperimentSpec } from '../definition/types.ts';
import { isValidationError } from '../errors.ts';
import { assignVariant, bucketOf, compileExperiment, keyOf, pickWeighted } from './experiments.ts';

const spec: ExperimentSpec = { variants: { control: { weight: 70 }, b: { weight: 20 }, c: { weight: 10 } } };

function shares(assign: (key: string) => string, n = 100_000): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const v = assign(`user-${i}`);
    counts[v] = (counts[v] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, c / n]));
}

describe('bucketOf', () => {
  it('is a stable point in [0, 1) that depends on key and salt', () => {
    const u = bucketOf('user-7', 'qa');
    expect(u).toBeGreaterThanOrEqual(0);
    expect(u).toBeLessThan(1);
    expect(bucketOf('user-7', 'qa')).toBe(u);
    expect(bucketOf('user-7', 'other')).not.toBe(u);
    expect(bucketOf('user-8', 'qa')).not.toBe(u);
    // salt and key are separated: ('ab', 'c') is not ('a', 'bc')
    expect(bucketOf('c', 'ab')).not.toBe(bucketOf('bc', 'a'));
  });

  it('spreads sequential keys evenly over ten buckets', () => {
    const hist = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) hist[Math.floor(bucketOf(`k${i}`, 's') * 10)]!++;
    for (const h of hist) expect(Math.abs(h / 100_000 - 0.1)).toBeLessThan(0.01);
  });
});

describe('pickWeighted', () => {
  it('walks the cumulative weights in order', () => {
    const e = [['a', 1], ['b', 3]] as const;
    expect(pickWeighted(e, 0)).toBe('a');
    expect(pickWeighted(e, 0.249)).toBe('a');
    expect(pickWeighted(e, 0.25)).toBe('b');
    expect(pickWeighted(e, 0.999999)).toBe('b');
  });

  it('never picks weight 0, returns the first when nothing has weight, refuses no entries', () => {
    expect(pickWeighted([['a', 0], ['b', 1], ['c', 0]], 0)).toBe('b');
    expect(pickWeighted([['a', 0], ['b', 1], ['c', 0]], 0.99)).toBe('b');
    expect(pickWeighted([['a', 0], ['b', 0]], 0.5)).toBe('a');
    let error: unknown;
    try { pickWeighted([], 0.5); } catch (e) { error = e; }
    expect(isValidationError(error) && error.code).toBe('EMPTY_WEIGHTS');
  });
});

describe('keyOf', () => {
  it('follows stickyBy with fallbacks', () => {
    const all = { runId: 'r', tenant: 't', user: 'u' };
    expect(keyOf(spec, all)).toBe('u');
    expect(keyOf(spec, { runId: 'r', tenant: 't' })).toBe('t');
    expect(keyOf(spec, { runId: 'r' })).toBe('r');
    expect(keyOf({ ...spec, stickyBy: 'tenant' }, all)).toBe('t');
    expect(keyOf({ ...spec, stickyBy: 'tenant' }, { runId: 'r', user: 'u' })).toBe('r');
    expect(keyOf({ ...spec, stickyBy: 'run' }, all)).toBe('r');
    expect(compileExperiment({ ...spec, stickyBy: 'tenant' }).keyOf(all)).toBe('t');
  });
});

describe('compileExperiment / assignVariant', () => {
  it('is sticky: the same key gets the same variant over 10,000 calls, and agrees with bucketOf + pickWeighted', () => {
    const e = compileExperiment(spec, 'qa');
    const first = e.assign('user-42');
    let changed = 0;
    for (let i = 0; i < 10_000; i++) if (e.assign('user-42') !== first) changed++;
    expect(changed).toBe(0);
    expect(compileExperiment(spec, 'qa').assign('user-42')).toBe(first); // another worker, same answer
    expect(assignVariant(spec, { key: 'user-42', salt: 'qa' })).toBe(first);
    let disagree = 0;
    for (let i = 0; i < 1000; i++) {
      const key = `k${i}`;
      if (e.assign(key) !== pickWeighted([['control', 70], ['b', 20], ['c', 10]], bucketOf(key, 'qa'))) disagree++;
    }
    expect(disagree).toBe(0);
  });

  it('splits 100,000 keys within 2 % of the weights', () => {
    const e = compileExperiment(spec, 'qa');
    const s = shares((k) => e.assign(k));
    expect(Math.abs(s['control']! - 0.7)).toBeLessThan(0.02);
    expect(Math.abs(s['b']! - 0.2)).toBeLessThan(0.02);
    expect(Math.abs(s['c']! - 0.1)).toBeLessThan(0.02);
  });

  it("a policy's weights replace the spec's, variant by variant", () => {
    const e = compileExperiment(spec, 'qa');
    const s = shares((k) => e.assign(k, { control: 10, c: 70, unknown: 1000 }));
    expect(Math.abs(s['control']! - 0.1)).toBeLessThan(0.02);
    expect(Math.abs(s['b']! - 0.2)).toBeLessThan(0.02); // not named: keeps its spec weight
    expect(Math.abs(s['c']! - 0.7)).toBeLessThan(0.02);
    expect(shares((k) => e.assign(k, { b: 0, c: 0 }), 1000)).toEqual({ control: 1 });
    // switching between weights objects (and none) gives what a fresh assigner gives
    const w1 = { control: 1, b: 1, c: 1 };
    const w2 = { c: 0 };
    let wrong = 0;
    for (let i = 0; i < 3000; i++) {
      const w = [w1, undefined, w2][i % 3];
      if (e.assign(`k${i}`, w) !== compileExperiment(spec, 'qa').assign(`k${i}`, w)) wrong++;
    }
    expect(wrong).toBe(0);
    // zero weights in the middle and at the end: the same as bucketOf + pickWeighted
    for (const w of [{ b: 0 }, { c: 0 }, { control: 0, c: 0 }]) {
      const entries = e.variants.map((v) => [v, w[v as keyof typeof w] ?? spec.variants[v]!.weight] as const);
      let disagree = 0;
      for (let i = 0; i < 2000; i++) if (e.assign(`z${i}`, w) !== pickWeighted(entries, bucketOf(`z${i}`, 'qa'))) disagree++;
      expect(disagree).toBe(0);
    }
  });

  it('sends a paused variant to control and moves nobody else', () => {
    const e = compileExperiment(spec, 'qa');
    const paused = new Set(['b']);
    let moved = 0;
    let wrong = 0;
    for (let i = 0; i < 20_000; i++) {
      const before = e.assign(`user-${i}`);
      const after = e.assign(`user-${i}`, undefined, paused);
      if (after !== (before === 'b' ? 'control' : before)) wrong++;
      if (before !== after) moved++;
    }
    expect(wrong).toBe(0);
    expect(moved / 20_000).toBeGreaterThan(0.18); // b's share went to control
    expect(assignVariant(spec, { key: 'x', paused: new Set(['control', 'b', 'c']) })).toBe('control');
  });

  it('sends everything to control when no variant has weight; control defaults to the first variant', () => {
    const e = compileExperiment({ control: 'b', variants: { a: { weight: 1 }, b: { weight: 1 } } });
    expect(e.control).toBe('b');
    expect(e.assign('k', { a: 0, b: 0 })).toBe('b');
    expect(compileExperiment(spec).control).toBe('control');
    expect(compileExperiment({ variants: { z: { weight: 0 }, y: { weight: 0 } } }).assign('k')).toBe('z');
  });

  it("salts with the spec's name over the fallback, so two experiments split independently", () => {
    expect(compileExperiment({ ...spec, name: 'exp' }, 'qa').salt).toBe('exp');
    expect(compileExperiment(spec, 'qa').salt).toBe('qa');
    const a = compileExperiment({ variants: { x: { weight: 1 }, y: { weight: 1 } } }, 'one');
    const b = compileExperiment({ variants: { x: { weight: 1 }, y: { weight: 1 } } }, 'two');
    let same = 0;
    for (let i = 0; i < 10_000; i++) if (a.assign(`u${i}`) === b.assign(`u${i}`)) same++;
    expect(Math.abs(same / 10_000 - 0.5)).toBeLessThan(0.03);
  });
});
