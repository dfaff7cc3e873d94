/**
 * Canary rollout of a policy version: it takes a share of runs, grows by a step after every
 * so many evaluated canary runs without regression, is promoted at 100 %, and is rolled back
 * (share 0) as soon as the regression test finds it worse than the baseline version.
 * Deterministic: no timers, no randomness (the caller gives each run's bucket).
 * @module
 */
import * as z from 'zod';
import { parseOptions } from '../runtime/options.ts';
import { CanarySpecSchema } from './policy.ts';
import type { CanarySpec, RegressionRule, RegressionTest } from './types.ts';

/**
 * One step of a canary: where it is now and why. `started` is the first (the share given by
 * the spec; `promoted` at once when that share is 100).
 *
 * @example
 * ```ts
 * const s: CanaryStep = { phase: 'grown', percent: 25, version: 4, baseline: 3, reason: '100 evaluated canary runs without regression', ts: 0 };
 * ```
 */
export interface CanaryStep {
  readonly phase: 'started' | 'grown' | 'promoted' | 'rolled_back';
  /** Share of runs (0..100) the canary takes from now on. */
  readonly percent: number;
  /** The canary's policy version. */
  readonly version: number;
  /** The policy version it is compared with (and that the other runs use). */
  readonly baseline: number;
  readonly reason?: string;
  /** Epoch ms (the canary's clock). */
  readonly ts: number;
}

/**
 * Options of {@link createCanary}.
 *
 * @example
 * ```ts
 * const o: CanaryOptions = { spec: { percent: 5, step: 20, everyRuns: 100, metric: 'correct' }, version: 4, baseline: 3, test: createRegressionTest({ metric: 'correct' }) };
 * ```
 */
export interface CanaryOptions {
  readonly spec: CanarySpec;
  /** The new policy version. */
  readonly version: number;
  /** The version it replaces (0: the topology's own definition). */
  readonly baseline: number;
  /** Compares canary runs' scores (treatment) with baseline runs' (control); owned by the canary from now on. */
  readonly test: RegressionTest;
  /** Clock of the steps' `ts`. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/**
 * What a canary has seen: scores of baseline and canary runs, canary scores since the last
 * step, and scores it did not use (another version's, or after it ended), and non-finite
 * scores it refused.
 *
 * @example
 * ```ts
 * const c: CanaryCounts = canary.counts(); // { control: 120, treatment: 14, sinceStep: 14, ignored: 0, invalid: 0 }
 * ```
 */
export interface CanaryCounts {
  readonly control: number;
  readonly treatment: number;
  readonly sinceStep: number;
  readonly ignored: number;
  readonly invalid: number;
}

/**
 * A canary rollout (see {@link createCanary}).
 *
 * @example
 * ```ts
 * const version = canary.pick(bucketOf(runId, 'qa:canary'));
 * const step = canary.observe(version, score);
 * if (step) emit({ type: 'canary.step', topology: 'qa', ...step });
 * ```
 */
export interface Canary {
  readonly spec: CanarySpec;
  readonly version: number;
  readonly baseline: number;
  /** Current share of runs (0..100). */
  readonly percent: number;
  /** The latest step (`started` until the first change). */
  readonly last: CanaryStep;
  /** Promoted or rolled back: the share no longer changes. */
  readonly done: boolean;
  /** The policy version of a run whose bucket is `u` (in [0, 1)): the canary's when `u x 100 < percent`, else the baseline's. */
  pick(u: number): number;
  /**
   * One evaluated run's score on the spec's metric, by the version the run used. Returns the
   * step it caused (grown, promoted, rolled back), or undefined. Scores of other versions,
   * after the end, or not finite change nothing (see {@link Canary.counts}).
   */
  observe(version: number, score: number): CanaryStep | undefined;
  counts(): CanaryCounts;
}

/**
 * The regression rule a canary's test should use: the spec's `test` settings on its `metric`.
 *
 * @example
 * ```ts
 * const canary = createCanary({ spec, version: 4, baseline: 3, test: createRegressionTest(canaryRule(spec)) });
 * ```
 */
export function canaryRule(spec: CanarySpec): RegressionRule {
  return { ...spec.test, metric: spec.metric };
}

const OptionsSchema = z.strictObject({
  spec: CanarySpecSchema,
  version: z.number().int().nonnegative(),
  baseline: z.number().int().nonnegative(),
  test: z.custom<RegressionTest>((t) => typeof t === 'object' && t !== null && typeof (t as { observe?: unknown }).observe === 'function', 'a regression test'),
  now: z.custom<() => number>((f) => typeof f === 'function', 'a function returning epoch ms').optional(),
}).refine((o) => o.version !== o.baseline, { message: 'the canary and its baseline must be different versions', path: ['baseline'] });

const fmt = (x: number): string => (Math.round(x * 1000) / 1000).toString();

/**
 * Starts a canary rollout of `version` against `baseline`. Throws a ValidationError
 * (`OPTIONS_INVALID`) for bad options.
 *
 * @example
 * ```ts
 * const canary = createCanary({ spec: { percent: 10, step: 30, everyRuns: 50, metric: 'correct' }, version: 4, baseline: 3,
 *   test: createRegressionTest({ metric: 'correct', minSamples: 30 }) });
 * canary.percent; // 10
 * canary.observe(4, 1); // undefined until 50 canary runs were scored without regression, then { phase: 'grown', percent: 40, ... }
 * ```
 */
export function createCanary(options: CanaryOptions): Canary {
  const o = parseOptions(OptionsSchema, options, 'canary options');
  const { spec, version, baseline, test } = o;
  const now = o.now ?? Date.now;
  let percent = Math.min(100, spec.percent);
  let last: CanaryStep = { phase: percent >= 100 ? 'promoted' : 'started', percent, version, baseline, ts: now() };
  let control = 0;
  let treatment = 0;
  let sinceStep = 0;
  let ignored = 0;
  let invalid = 0;
  const done = (): boolean => last.phase === 'promoted' || last.phase === 'rolled_back';
  const step = (phase: CanaryStep['phase'], reason: string): CanaryStep => {
    last = { phase, percent, version, baseline, reason, ts: now() };
    return last;
  };

  return {
    spec,
    version,
    baseline,
    get percent() { return percent; },
    get last() { return last; },
    get done() { return done(); },
    pick: (u) => (u * 100 < percent ? version : baseline),
    observe(v, score) {
      if (!Number.isFinite(score)) {
        invalid++;
        return undefined;
      }
      if (done() || (v !== version && v !== baseline)) {
        ignored++;
        return undefined;
      }
      const canaryRun = v === version;
      if (canaryRun) {
        treatment++;
        sinceStep++;
      } else control++;
      const verdict = test.observe(canaryRun ? 'treatment' : 'control', score);
      if (verdict.regressed) {
        percent = 0;
        return step('rolled_back', `${spec.metric}: mean ${fmt(verdict.mean)} over ${verdict.count} canary runs vs ${fmt(verdict.controlMean)} over ${verdict.controlCount} baseline runs`);
      }
      if (!canaryRun || sinceStep < spec.everyRuns) return undefined;
      sinceStep = 0;
      percent = Math.min(100, percent + spec.step);
      const reason = `${spec.everyRuns} evaluated canary runs without regression`;
      return step(percent >= 100 ? 'promoted' : 'grown', reason);
    },
    counts: () => ({ control, treatment, sinceStep, ignored, invalid }),
  };
}
