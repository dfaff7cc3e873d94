import { describe, expect, it } from 'vitest';
import { SlidingWindow } from './slo-window.ts';

describe('SlidingWindow', () => {
  it('keeps count, sum and exact quantiles of the last windowMs, through many expiries', () => {
    const w = new SlidingWindow(1_000, true);
    // 5,000 samples, one per ms, value = ts % 100
    for (let t = 1; t <= 5_000; t++) {
      w.add(t, t % 100);
      w.expire(t);
    }
    expect(w.count).toBe(1_000); // ts 4001..5000
    expect(w.sum).toBe(10 * 4_950);
    expect(w.quantile(0.99)).toBe(98);
    expect(w.quantile(0.5)).toBe(49);
    w.expire(6_000);
    expect([w.count, w.sum, w.quantile(0.99)]).toEqual([0, 0, 0]);
  });

  it('an unsorted window refuses quantiles', () => {
    expect(() => new SlidingWindow(10, false).quantile(0.5)).toThrow(/sorted/);
  });
});
