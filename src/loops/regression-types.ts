/**
 * The sequential regression test as interfaces: the rule saying when a treatment counts as
 * worse than control on a metric, the test's verdict after each score, and the test
 * itself. `createRegressionTest` (regression.ts) implements them.
 * @module
 */
import type { Moments } from './stats-types.ts';

/**
 * When a variant (or canary) counts as worse than control on a metric, and what to do then.
 *
 * @example
 * ```ts
 * const rule: RegressionRule = { metric: 'correct', action: 'pause', minSamples: 50, alpha: 0.01, minEffect: 0.05 };
 * ```
 */
export interface RegressionRule {
  readonly metric: string;
  /** What happens on regression. Default `alert`. */
  readonly action?: 'alert' | 'pause' | 'breaker' | undefined;
  /** No verdict before each side has this many scores. Default 30. */
  readonly minSamples?: number | undefined;
  /** False-alarm rate of the whole (continuously monitored) test. Default 0.01. */
  readonly alpha?: number | undefined;
  /** Smallest relative drop of the mean worth raising (0.05 = 5 %). Default 0.05. */
  readonly minEffect?: number | undefined;
  /** Default `higher` (a score); `lower` for e.g. latency or error rate. */
  readonly better?: 'higher' | 'lower' | undefined;
}

/**
 * A regression test's answer after one more score.
 *
 * @example
 * ```ts
 * const v = test.observe('treatment', 0.4);
 * if (v.regressed) console.log(v.mean, 'vs', v.controlMean);
 * ```
 */
export type RegressionVerdict =
  | { readonly regressed: false }
  | { readonly regressed: true; readonly mean: number; readonly controlMean: number; readonly count: number; readonly controlCount: number };

/**
 * A sequential test of a treatment against control on one metric, safe to check after
 * every score (the false-alarm rate holds under continuous monitoring). Once regressed it
 * stays regressed until `reset()`.
 *
 * @example
 * ```ts
 * const test = createRegressionTest({ metric: 'correct' });
 * for (const s of controlScores) test.observe('control', s);
 * const v = test.observe('treatment', 0);
 * ```
 */
export interface RegressionTest {
  readonly rule: RegressionRule;
  observe(group: 'control' | 'treatment', value: number): RegressionVerdict;
  readonly control: Moments;
  readonly treatment: Moments;
  reset(): void;
}
