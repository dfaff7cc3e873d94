import { describe, expect, it } from 'vitest';
import { createRandom } from '../primitives/random.ts';
import { createRollingStats, createStatsBook } from './stats.ts';
import type { StatKey } from './types.ts';
import { issuePaths } from '../../test/support/helpers.ts';

/** Two-pass mean and sample variance. */
function exact(xs: readonly number[]): { count: number; mean: number; variance: number } {
  const n = xs.length;
  if (n === 0) return { count: 0, mean: 0, variance: 0 };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const variance = n > 1 ? xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1) : 0;
  return { count: n, mean, variance };
}

describe('createRollingStats', () => {
  it('starts empty', () => {
    const s = createRollingStats(3);
    expect(s.all).toEqual({ count: 0, mean: 0, variance: 0 });
    expect(s.window).toEqual({ count: 0, mean: 0, variance: 0 });
  });

  it('has variance 0 below two values', () => {
    const s = createRollingStats(3);
    s.add(0.4);
    expect(s.all).toEqual({ count: 1, mean: 0.4, variance: 0 });
    expect(s.window).toEqual({ count: 1, mean: 0.4, variance: 0 });
  });

  it('keeps all values and the last windowSize apart', () => {
    const s = createRollingStats(3);
    for (const x of [1, 2, 3, 4, 5]) s.add(x);
    expect(s.all.count).toBe(5);
    expect(s.all.mean).toBeCloseTo(3, 12);
    expect(s.all.variance).toBeCloseTo(2.5, 12);
    expect(s.window.count).toBe(3);
    expect(s.window.mean).toBeCloseTo(4, 12);
    expect(s.window.variance).toBeCloseTo(1, 12);
  });

  it('matches a two-pass computation over a long random series, window included', () => {
    const r = createRandom(9);
    const w = 50;
    const s = createRollingStats(w);
    const xs: number[] = [];
    for (let i = 0; i < 2_345; i++) {
      const x = r.normal(0.7, 0.15);
      xs.push(x);
      s.add(x);
      if (i % 97 === 0 || i === 2_344) {
        const all = exact(xs);
        const win = exact(xs.slice(-w));
        expect(s.all.count).toBe(all.count);
        expect(s.all.mean).toBeCloseTo(all.mean, 10);
        expect(s.all.variance).toBeCloseTo(all.variance, 10);
        expect(s.window.count).toBe(win.count);
        expect(s.window.mean).toBeCloseTo(win.mean, 10);
        expect(s.window.variance).toBeCloseTo(win.variance, 10);
      }
    }
  });

  it('stays stable around a large offset (no catastrophic cancellation)', () => {
    const s = createRollingStats(10);
    const r = createRandom(4);
    const xs: number[] = [];
    for (let i = 0; i < 1_000; i++) {
      const x = 1e9 + r.next();
      xs.push(x);
      s.add(x);
    }
    const win = exact(xs.slice(-10));
    expect(s.window.variance).toBeCloseTo(win.variance, 6);
    expect(s.all.variance).toBeCloseTo(exact(xs).variance, 6);
  });

  it('window of a constant series has variance exactly 0 (never negative)', () => {
    const s = createRollingStats(4);
    for (let i = 0; i < 100; i++) s.add(0.1 * (i % 7));
    for (let i = 0; i < 10; i++) s.add(0.3);
    expect(s.window.mean).toBeCloseTo(0.3, 12);
    expect(s.window.variance).toBeGreaterThanOrEqual(0);
    expect(s.window.variance).toBeLessThan(1e-20);
  });

  it('a window of one follows the last value', () => {
    const s = createRollingStats(1);
    for (const x of [3, 9, 4]) s.add(x);
    expect(s.window).toEqual({ count: 1, mean: 4, variance: 0 });
  });

  it('rejects a window size that is not a positive integer, naming windowSize', () => {
    expect(issuePaths(() => createRollingStats(0))).toEqual(['windowSize']);
    expect(issuePaths(() => createRollingStats(2.5))).toEqual(['windowSize']);
  });

  it('rejects a value that is not finite, naming value, and keeps its moments', () => {
    const s = createRollingStats(3);
    s.add(1);
    expect(issuePaths(() => s.add(Number.NaN))).toEqual(['value']);
    expect(issuePaths(() => s.add(Number.POSITIVE_INFINITY))).toEqual(['value']);
    expect(s.all).toEqual({ count: 1, mean: 1, variance: 0 });
  });
});

describe('createStatsBook', () => {
  const key = (topology: string, variant: string, model: string, metric: string): StatKey => ({ topology, variant, model, metric });

  it('keeps statistics per key and returns undefined for an unknown one', () => {
    const book = createStatsBook({ windowSize: 2 });
    book.add(key('qa', 'b', 'sim:a', 'correct'), 1);
    book.add(key('qa', 'b', 'sim:a', 'correct'), 0);
    book.add(key('qa', 'b', 'sim:a', 'correct'), 0);
    book.add(key('qa', 'control', 'sim:a', 'correct'), 1);
    expect(book.get(key('qa', 'b', 'sim:a', 'correct'))?.all.count).toBe(3);
    expect(book.get(key('qa', 'b', 'sim:a', 'correct'))?.window).toEqual({ count: 2, mean: 0, variance: 0 });
    expect(book.get(key('qa', 'control', 'sim:a', 'correct'))?.all.mean).toBe(1);
    expect(book.get(key('qa', 'b', 'sim:b', 'correct'))).toBeUndefined();
  });

  it('rows() are sorted by topology, variant, model, metric and carry both moments', () => {
    const book = createStatsBook({ windowSize: 10 });
    book.add(key('rag', '', 'sim:a', 'helpful'), 0.5);
    book.add(key('qa', 'control', 'sim:b', 'correct'), 1);
    book.add(key('qa', 'control', 'sim:a', 'latency'), 200);
    book.add(key('qa', 'control', 'sim:a', 'correct'), 0);
    book.add(key('qa', 'b', 'sim:z', 'correct'), 1);
    book.add(key('qa', 'control', 'sim:a', 'correct'), 1);
    const rows = book.rows();
    expect(rows.map((r) => [r.topology, r.variant, r.model, r.metric])).toEqual([
      ['qa', 'b', 'sim:z', 'correct'],
      ['qa', 'control', 'sim:a', 'correct'],
      ['qa', 'control', 'sim:a', 'latency'],
      ['qa', 'control', 'sim:b', 'correct'],
      ['rag', '', 'sim:a', 'helpful'],
    ]);
    expect(rows[1]).toEqual({
      topology: 'qa', variant: 'control', model: 'sim:a', metric: 'correct',
      count: 2, mean: 0.5, variance: 0.5, window: { count: 2, mean: 0.5, variance: 0.5 },
    });
  });

  it('keeps keys apart even when their parts would join alike', () => {
    const book = createStatsBook({ windowSize: 10 });
    book.add(key('a-b', 'c', '', ''), 1);
    book.add(key('a', 'b-c', '', ''), 0);
    expect(book.rows()).toHaveLength(2);
  });

  it('validates its options, naming the field', () => {
    expect(issuePaths(() => createStatsBook({ windowSize: 0 }))).toEqual(['options.windowSize']);
    expect(issuePaths(() => createStatsBook({ windowSize: 1.5 }))).toEqual(['options.windowSize']);
    expect(issuePaths(() => createStatsBook({} as { windowSize: number }))).toEqual(['options.windowSize']);
  });

  it('rejects a value that is not finite, naming value, and adds no row', () => {
    const book = createStatsBook({ windowSize: 10 });
    expect(issuePaths(() => book.add(key('qa', '', '', 'correct'), Number.NaN))).toEqual(['value']);
    expect(book.rows()).toEqual([]);
  });
});
