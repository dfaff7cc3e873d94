/**
 * Rolling statistics as interfaces: the moments of a series, rolling statistics over all
 * values and a recent window, and a book of them kept per topology x variant x model x
 * metric. `createRollingStats` and `createStatsBook` (stats.ts) implement them.
 * @module
 */
import type { StatRow } from '../runtime/loop.ts';

/**
 * Count, mean and (sample) variance of a series.
 *
 * @example
 * ```ts
 * const m: Moments = { count: 3, mean: 0.5, variance: 0.01 };
 * ```
 */
export interface Moments {
  readonly count: number;
  readonly mean: number;
  /** Sample variance (n - 1); 0 below two values. */
  readonly variance: number;
}

/**
 * Moments of every value added (Welford) and of the last `windowSize` values (a ring).
 *
 * @example
 * ```ts
 * const s = createRollingStats(100);
 * s.add(0.8);
 * s.all.mean; s.window.count;
 * ```
 */
export interface RollingStats {
  add(value: number): void;
  readonly all: Moments;
  readonly window: Moments;
}

/**
 * What a statistic is kept per: topology x variant x model x metric (`''` for none).
 *
 * @example
 * ```ts
 * const k: StatKey = { topology: 'qa', variant: 'control', model: 'sim:a', metric: 'correct' };
 * ```
 */
export interface StatKey {
  readonly topology: string;
  readonly variant: string;
  readonly model: string;
  readonly metric: string;
}

/**
 * Rolling statistics by key.
 *
 * @example
 * ```ts
 * const book = createStatsBook({ windowSize: 500 });
 * book.add({ topology: 'qa', variant: '', model: 'sim:a', metric: 'correct' }, 1);
 * book.rows();
 * ```
 */
export interface StatsBook {
  add(key: StatKey, value: number): void;
  get(key: StatKey): RollingStats | undefined;
  /** Every key's row, sorted by topology, variant, model, metric. */
  rows(): StatRow[];
}
