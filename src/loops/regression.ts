/**
 * The sequential regression test: is a treatment (a variant, a canary) worse than control
 * on one metric? Safe to ask after every score. It is a one-sided mixture sequential
 * probability ratio test (mSPRT; Johari, Pekelis and Walsh, "Always valid inference",
 * 2017) on the difference of the two means: under "no difference" the mixture likelihood
 * ratio is a martingale, so by Ville's inequality it ever reaches `1 / alpha` with
 * probability at most `alpha`, however often it is checked.
 *
 * The variance is estimated from the data: the pooled within-group sample variance (with
 * a floor), or the unpooled (Welch) variance of the difference when that is larger, which
 * keeps a small, skewed sample (a 5 % canary's first scores) from raising false alarms.
 * The mixture over the difference is a normal with scale {@link MIXTURE_SCALE} standard
 * deviations of a score, restricted to the worse side.
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import type { Moments, RegressionRule, RegressionTest, RegressionVerdict } from './types.ts';

/**
 * Schema of a {@link RegressionRule}.
 *
 * @example
 * ```ts
 * RegressionRuleSchema.parse({ metric: 'correct', alpha: 0.05 });
 * ```
 */
export const RegressionRuleSchema = z.strictObject({
  metric: z.string().min(1),
  action: z.enum(['alert', 'pause', 'breaker']).optional(),
  minSamples: z.number().int().min(2).optional(),
  alpha: z.number().gt(0).lt(1).optional(),
  minEffect: z.number().min(0).finite().optional(),
  better: z.enum(['higher', 'lower']).optional(),
});

/**
 * Scale of the mixing normal, in standard deviations of one score. Its best value depends
 * on the effects worth catching; a quarter of a standard deviation detects drops of 10 to
 * 100 % of a standard deviation within a few hundred scores per side.
 *
 * @example
 * ```ts
 * const tau = MIXTURE_SCALE * Math.sqrt(pooledVariance);
 * ```
 */
export const MIXTURE_SCALE = 0.25;

const NO: RegressionVerdict = Object.freeze({ regressed: false });

/**
 * The log mixture likelihood ratio of a one-sided normal-mixture SPRT, at least (a tight
 * lower bound of the exact value, so the test errs towards no alarm).
 *
 * `z2` is the squared z statistic of the difference (positive side only) and `r` the
 * ratio of the mixing variance to the variance of the difference.
 *
 * @example
 * ```ts
 * logMixtureRatio(16, 10) >= Math.log(1 / 0.01); // true: alarm at alpha 0.01
 * ```
 */
export function logMixtureRatio(z2: number, r: number): number {
  const k = r / (1 + r);
  // two-sided normal mixture: sqrt(1 / (1 + r)) * exp(z^2 r / (2 (1 + r)))
  const twoSided = -0.5 * Math.log1p(r) + 0.5 * z2 * k;
  // the half on the worse side is 2 Phi(z sqrt(k)) times that; 1 - Phi(a) <= exp(-a^2 / 2) / 2
  return twoSided + Math.log(2 - Math.exp(-0.5 * z2 * k));
}

/**
 * Creates a {@link RegressionTest} for a rule (defaults: minSamples 30, alpha 0.01,
 * minEffect 0.05, better `higher`, action `alert`). It reports a regression only when
 * (a) both sides have at least `minSamples` scores, (b) the treatment's mean is worse than
 * control's by at least `minEffect` x |control mean|, and (c) the mixture likelihood ratio
 * reaches `1 / alpha`. Once regressed it stays so (the verdict carries the current means)
 * until `reset()`. Throws a ValidationError naming the bad field of the rule, or `value`
 * when a score is not a finite number.
 *
 * @example
 * ```ts
 * const test = createRegressionTest({ metric: 'correct', action: 'pause' });
 * const v = test.observe(run.variant === 'control' ? 'control' : 'treatment', score);
 * if (v.regressed) pause(test.rule.metric, v.mean, v.controlMean);
 * ```
 */
export function createRegressionTest(rule: RegressionRule): RegressionTest {
  const parsed = RegressionRuleSchema.safeParse(rule);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'regression rule is invalid', toIssues(parsed.error.issues, ['rule']));
  const full: { readonly [K in keyof RegressionRule]-?: NonNullable<RegressionRule[K]> } = {
    metric: parsed.data.metric,
    action: parsed.data.action ?? 'alert',
    minSamples: parsed.data.minSamples ?? 30,
    alpha: parsed.data.alpha ?? 0.01,
    minEffect: parsed.data.minEffect ?? 0.05,
    better: parsed.data.better ?? 'higher',
  };
  const { minSamples, minEffect } = full;
  const threshold = Math.log(1 / full.alpha);
  const sign = full.better === 'higher' ? 1 : -1;
  const c2 = MIXTURE_SCALE * MIXTURE_SCALE;

  let nc = 0;
  let mc = 0;
  let qc = 0;
  let nt = 0;
  let mt = 0;
  let qt = 0;
  let regressed = false;

  const moments = (n: number, mean: number, q: number): Moments => ({ count: n, mean, variance: n > 1 ? Math.max(0, q / (n - 1)) : 0 });
  const verdict = (): RegressionVerdict => ({ regressed: true, mean: mt, controlMean: mc, count: nt, controlCount: nc });

  const check = (): boolean => {
    if (nc < minSamples || nt < minSamples) return false;
    const worse = sign * (mc - mt);
    if (!(worse > 0) || worse < minEffect * Math.abs(mc)) return false;
    // pooled within-group variance, floored so constant scores still give a finite statistic
    const scale = Math.max(Math.abs(mc), Math.abs(mt), 1e-3);
    const variance = Math.max((qc + qt) / (nc + nt - 2), 1e-12 * scale * scale);
    // variance of the difference: the larger of the pooled and the unpooled (Welch) estimate
    const pooled = variance * (1 / nc + 1 / nt);
    const welch = qc / ((nc - 1) * nc) + qt / ((nt - 1) * nt);
    const s2 = Math.max(pooled, welch);
    return logMixtureRatio((worse * worse) / s2, (c2 * variance) / s2) >= threshold;
  };

  return {
    rule: full,
    observe(group: 'control' | 'treatment', value: number): RegressionVerdict {
      if (!Number.isFinite(value)) {
        throw new ValidationError('VALUE_INVALID', `score of regression test '${full.metric}' is invalid`, [
          { code: 'invalid_value', path: ['value'], message: `expected a finite number, got ${String(value)}` },
        ]);
      }
      if (group === 'control') {
        nc++;
        const d = value - mc;
        mc += d / nc;
        qc += d * (value - mc);
      } else if (group === 'treatment') {
        nt++;
        const d = value - mt;
        mt += d / nt;
        qt += d * (value - mt);
      } else {
        throw new ValidationError('VALUE_INVALID', `group of regression test '${full.metric}' is invalid`, [
          { code: 'invalid_value', path: ['group'], message: `expected 'control' or 'treatment', got ${String(group)}` },
        ]);
      }
      if (!regressed) regressed = check();
      return regressed ? verdict() : NO;
    },
    get control(): Moments {
      return moments(nc, mc, qc);
    },
    get treatment(): Moments {
      return moments(nt, mt, qt);
    },
    reset(): void {
      nc = mc = qc = nt = mt = qt = 0;
      regressed = false;
    },
  };
}
