/**
 * Multi-armed bandits: epsilon-greedy and Thompson sampling, over binary rewards (Beta
 * posteriors) or real-valued ones (Normal posteriors with unknown variance). All their
 * randomness comes from one seeded {@link Random}, so the same seed and rewards replay the
 * same picks.
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import { createRandom, type Random } from '../primitives/random.ts';
import type { ArmState, Bandit, BanditOptions } from './types.ts';

/**
 * Schema of {@link BanditOptions}: arms non-empty and unique, epsilon in [0, 1].
 *
 * @example
 * ```ts
 * BanditOptionsSchema.parse({ arms: ['sim:a', 'sim:b'], strategy: 'epsilon-greedy', epsilon: 0.05 });
 * ```
 */
export const BanditOptionsSchema = z.strictObject({
  arms: z
    .array(z.string().min(1))
    .min(1)
    .superRefine((arms, ctx) => {
      const seen = new Set<string>();
      arms.forEach((arm, i) => {
        if (seen.has(arm)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate arm '${arm}'` });
        seen.add(arm);
      });
    }),
  strategy: z.enum(['epsilon-greedy', 'thompson']).optional(),
  rewards: z.enum(['binary', 'gaussian']).optional(),
  epsilon: z.number().min(0).max(1).optional(),
  seed: z.number().finite().optional(),
});

interface Arm {
  readonly name: string;
  /** Times chosen. */
  pulls: number;
  /** Rewards received (count). */
  n: number;
  /** Sum of rewards (clamped to [0, 1] when binary). */
  sum: number;
  /** Welford mean and sum of squared deviations of the rewards. */
  mean: number;
  m2: number;
}

/** Draws a Student t variate with `dof` degrees of freedom. */
function studentT(random: Random, dof: number): number {
  return random.normal() / Math.sqrt((2 * random.gamma(dof / 2)) / dof);
}

/**
 * Creates a {@link Bandit}. Defaults: strategy `thompson`, rewards `binary`, epsilon 0.1,
 * seed 1.
 *
 * - Thompson, binary: each arm's success rate has a Beta(1 + rewards, 1 + failures)
 *   posterior (a reward r in [0, 1] counts r successes and 1 - r failures; rewards outside
 *   [0, 1] are clamped); the pick is the arm with the highest draw.
 * - Thompson, gaussian: each arm's mean has the Student t posterior of a normal with
 *   unknown mean and variance (Jeffreys prior): mean + s / sqrt(n) x t(n - 1). Arms with
 *   fewer than two rewards are picked first (the fewest-chosen of them).
 * - Epsilon-greedy: arms without a reward are picked first (the fewest-chosen of them);
 *   then a random arm with probability epsilon, else the arm with the best mean reward
 *   (ties broken at random).
 *
 * Throws a ValidationError naming the bad option; `update` throws one naming `arm` for an
 * arm the bandit does not have, or `reward` for a reward that is not a finite number.
 *
 * @example
 * ```ts
 * const bandit = createBandit({ arms: ['sim:small', 'sim:large'], strategy: 'thompson', seed: 7 });
 * const arm = bandit.choose();
 * bandit.update(arm, correct ? 1 : 0);
 * bandit.state(); // [{ arm: 'sim:small', pulls: 1, rewards: 1, mean: 1 }, { arm: 'sim:large', pulls: 0, rewards: 0, mean: 0 }]
 * ```
 */
export function createBandit(options: BanditOptions): Bandit {
  const parsed = BanditOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'bandit options are invalid', toIssues(parsed.error.issues, ['options']));
  const strategy = parsed.data.strategy ?? 'thompson';
  const binary = (parsed.data.rewards ?? 'binary') === 'binary';
  const epsilon = parsed.data.epsilon ?? 0.1;
  const random = createRandom(parsed.data.seed ?? 1);
  const arms: Arm[] = parsed.data.arms.map((name) => ({ name, pulls: 0, n: 0, sum: 0, mean: 0, m2: 0 }));
  const byName = new Map(arms.map((a) => [a.name, a]));

  /** The fewest-chosen arm with fewer than `min` rewards, if any. */
  const untried = (min: number): Arm | undefined => {
    let best: Arm | undefined;
    for (const a of arms) if (a.n < min && (best === undefined || a.pulls < best.pulls)) best = a;
    return best;
  };

  /** The arm with the highest score, ties broken uniformly at random. */
  const argmax = (score: (a: Arm) => number): Arm => {
    let best = arms[0] as Arm;
    let top = Number.NEGATIVE_INFINITY;
    let ties = 0;
    for (const a of arms) {
      const s = score(a);
      if (s > top) {
        top = s;
        best = a;
        ties = 1;
      } else if (s === top && random.next() * ++ties < 1) {
        best = a;
      }
    }
    return best;
  };

  const thompsonDraw = (a: Arm): number => {
    if (binary) return random.beta(1 + a.sum, 1 + a.n - a.sum);
    const variance = Math.max(a.m2 / (a.n - 1), 1e-12 * Math.max(1, a.mean * a.mean));
    return a.mean + Math.sqrt(variance / a.n) * studentT(random, a.n - 1);
  };

  const pick = (): Arm => {
    if (strategy === 'thompson') return (binary ? undefined : untried(2)) ?? argmax(thompsonDraw);
    const first = untried(1);
    if (first !== undefined) return first;
    if (epsilon > 0 && random.next() < epsilon) return arms[Math.floor(random.next() * arms.length)] as Arm;
    return argmax((a) => a.mean);
  };

  return {
    choose(): string {
      const arm = pick();
      arm.pulls++;
      return arm.name;
    },
    update(arm: string, reward: number): void {
      const a = byName.get(arm);
      if (a === undefined) {
        throw new ValidationError('ARM_UNKNOWN', 'bandit update is invalid', [
          { code: 'unknown_arm', path: ['arm'], message: `no arm '${arm}' (arms: ${arms.map((x) => x.name).join(', ')})` },
        ]);
      }
      if (!Number.isFinite(reward)) {
        throw new ValidationError('VALUE_INVALID', 'bandit update is invalid', [
          { code: 'invalid_value', path: ['reward'], message: `expected a finite number, got ${String(reward)}` },
        ]);
      }
      const r = binary ? Math.min(1, Math.max(0, reward)) : reward;
      a.n++;
      a.sum += r;
      const d = r - a.mean;
      a.mean += d / a.n;
      a.m2 += d * (r - a.mean);
    },
    state(): readonly ArmState[] {
      return arms.map((a) => ({ arm: a.name, pulls: a.pulls, rewards: a.sum, mean: a.n > 0 ? a.sum / a.n : 0 }));
    },
  };
}
