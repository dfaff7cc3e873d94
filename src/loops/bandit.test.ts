import { describe, expect, it } from 'vitest';
import { createRandom, type Random } from '../primitives/random.ts';
import { createBandit } from './bandit.ts';
import type { BanditOptions } from './types.ts';
import { issuePaths } from '../../test/support/helpers.ts';

const ARMS = ['low', 'mid', 'best'];

/** Plays `pulls` rounds; returns the arms chosen. The environment has its own seeded random numbers. */
function play(options: BanditOptions, reward: (arm: string, env: Random) => number, pulls: number, envSeed = 99): string[] {
  const bandit = createBandit(options);
  const env = createRandom(envSeed);
  const chosen: string[] = [];
  for (let i = 0; i < pulls; i++) {
    const arm = bandit.choose();
    chosen.push(arm);
    bandit.update(arm, reward(arm, env));
  }
  return chosen;
}

const shareOf = (arm: string, picks: readonly string[]): number => picks.filter((p) => p === arm).length / picks.length;

const P: Record<string, number> = { low: 0.3, mid: 0.5, best: 0.8 };
const bernoulli = (arm: string, env: Random): number => (env.next() < (P[arm] ?? 0) ? 1 : 0);
const MU: Record<string, number> = { low: 0.2, mid: 0.5, best: 0.6 };
const gaussian = (arm: string, env: Random): number => env.normal(MU[arm] ?? 0, 0.1);

describe('createBandit: convergence', () => {
  it('Thompson, Bernoulli 0.3 / 0.5 / 0.8: at least 85 % of the last 500 of 2,000 pulls go to the best arm', () => {
    const picks = play({ arms: ARMS, strategy: 'thompson', seed: 7 }, bernoulli, 2_000);
    expect(shareOf('best', picks.slice(-500))).toBeGreaterThanOrEqual(0.85);
  });

  it('epsilon-greedy, Bernoulli 0.3 / 0.5 / 0.8: at least 80 % of the last 500 of 2,000 pulls go to the best arm', () => {
    const picks = play({ arms: ARMS, strategy: 'epsilon-greedy', seed: 7 }, bernoulli, 2_000);
    expect(shareOf('best', picks.slice(-500))).toBeGreaterThanOrEqual(0.8);
  });

  it('Thompson, gaussian rewards with means 0.2 / 0.5 / 0.6 (sd 0.1): converges to the 0.6 arm', () => {
    const picks = play({ arms: ARMS, strategy: 'thompson', rewards: 'gaussian', seed: 7 }, gaussian, 2_000);
    expect(shareOf('best', picks.slice(-500))).toBeGreaterThanOrEqual(0.9);
  });

  it('epsilon-greedy, gaussian rewards with means 0.2 / 0.5 / 0.6 (sd 0.1): converges to the 0.6 arm', () => {
    const picks = play({ arms: ARMS, strategy: 'epsilon-greedy', rewards: 'gaussian', seed: 7 }, gaussian, 2_000);
    expect(shareOf('best', picks.slice(-500))).toBeGreaterThanOrEqual(0.8);
  });

  it('converges for other seeds too (Thompson, Bernoulli)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const picks = play({ arms: ARMS, seed }, bernoulli, 2_000, seed + 100);
      expect(shareOf('best', picks.slice(-500))).toBeGreaterThanOrEqual(0.85);
    }
  });
});

describe('createBandit: determinism', () => {
  it.each(['thompson', 'epsilon-greedy'] as const)('%s: the same seed and rewards give the same picks; another seed others', (strategy) => {
    const a = play({ arms: ARMS, strategy, seed: 42 }, bernoulli, 300);
    const b = play({ arms: ARMS, strategy, seed: 42 }, bernoulli, 300);
    const c = play({ arms: ARMS, strategy, seed: 43 }, bernoulli, 300);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('gaussian Thompson is deterministic too', () => {
    const opts: BanditOptions = { arms: ARMS, rewards: 'gaussian', seed: 5 };
    expect(play(opts, gaussian, 300)).toEqual(play(opts, gaussian, 300));
  });
});

describe('createBandit: picks and state', () => {
  it('epsilon-greedy tries every arm before exploiting', () => {
    const bandit = createBandit({ arms: ARMS, strategy: 'epsilon-greedy', epsilon: 0 });
    const first = [bandit.choose(), bandit.choose(), bandit.choose()];
    expect(first).toEqual(['low', 'mid', 'best']);
  });

  it('epsilon 0 always exploits the best mean; epsilon 1 picks uniformly', () => {
    const greedy = createBandit({ arms: ARMS, strategy: 'epsilon-greedy', epsilon: 0 });
    greedy.update('low', 0.2);
    greedy.update('mid', 0.9);
    greedy.update('best', 0.5);
    for (let i = 0; i < 50; i++) expect(greedy.choose()).toBe('mid');

    const uniform = createBandit({ arms: ARMS, strategy: 'epsilon-greedy', epsilon: 1, seed: 3 });
    for (const a of ARMS) uniform.update(a, a === 'best' ? 1 : 0);
    const picks = Array.from({ length: 3_000 }, () => uniform.choose());
    for (const a of ARMS) expect(Math.abs(shareOf(a, picks) - 1 / 3)).toBeLessThan(0.04);
  });

  it('greedy ties are broken at random, not always towards the first arm', () => {
    const bandit = createBandit({ arms: ARMS, strategy: 'epsilon-greedy', epsilon: 0, seed: 11 });
    for (const a of ARMS) bandit.update(a, 1);
    const picks = Array.from({ length: 600 }, () => bandit.choose());
    for (const a of ARMS) expect(shareOf(a, picks)).toBeGreaterThan(0.25);
  });

  it('Thompson without data spreads its picks', () => {
    const bandit = createBandit({ arms: ARMS, seed: 2 });
    const picks = Array.from({ length: 3_000 }, () => bandit.choose());
    for (const a of ARMS) expect(Math.abs(shareOf(a, picks) - 1 / 3)).toBeLessThan(0.04);
  });

  it('gaussian Thompson picks each arm until it has two rewards', () => {
    const bandit = createBandit({ arms: ARMS, rewards: 'gaussian' });
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) {
      const arm = bandit.choose();
      picks.push(arm);
      bandit.update(arm, 0.5);
    }
    expect([...picks].sort()).toEqual(['best', 'best', 'low', 'low', 'mid', 'mid']);
  });

  it('state() counts pulls and rewards; binary rewards are fractional and clamped to [0, 1]', () => {
    const bandit = createBandit({ arms: ['a', 'b'] });
    bandit.choose();
    bandit.choose();
    bandit.update('a', 0.7);
    bandit.update('a', 1.5);
    bandit.update('a', -0.2);
    const [a, b] = bandit.state();
    expect(a?.arm).toBe('a');
    expect(a?.rewards).toBeCloseTo(1.7, 12);
    expect(a?.mean).toBeCloseTo(1.7 / 3, 12);
    expect(b).toEqual({ arm: 'b', pulls: expect.any(Number) as number, rewards: 0, mean: 0 });
    expect((a?.pulls ?? 0) + (b?.pulls ?? 0)).toBe(2);
  });

  it('gaussian rewards are kept as they are', () => {
    const bandit = createBandit({ arms: ['a'], rewards: 'gaussian' });
    bandit.update('a', -3);
    bandit.update('a', 7);
    expect(bandit.state()).toEqual([{ arm: 'a', pulls: 0, rewards: 4, mean: 2 }]);
  });

  it('a fractional reward moves the Beta posterior by r successes and 1 - r failures', () => {
    // 200 rewards of 0.9 for `a`, 200 of 0.1 for `b`: Thompson then almost always picks `a`
    const bandit = createBandit({ arms: ['a', 'b'], seed: 4 });
    for (let i = 0; i < 200; i++) {
      bandit.update('a', 0.9);
      bandit.update('b', 0.1);
    }
    const picks = Array.from({ length: 200 }, () => bandit.choose());
    expect(shareOf('a', picks)).toBe(1);
  });
});

describe('createBandit: validation', () => {
  it('names the bad option', () => {
    expect(issuePaths(() => createBandit({ arms: [] }))).toEqual(['options.arms']);
    expect(issuePaths(() => createBandit({ arms: ['a', 'b', 'a'] }))).toEqual(['options.arms.2']);
    expect(issuePaths(() => createBandit({ arms: ['a', ''] }))).toEqual(['options.arms.1']);
    expect(issuePaths(() => createBandit({ arms: ['a'], epsilon: 1.5 }))).toEqual(['options.epsilon']);
    expect(issuePaths(() => createBandit({ arms: ['a'], epsilon: -0.1 }))).toEqual(['options.epsilon']);
    expect(issuePaths(() => createBandit({ arms: ['a'], strategy: 'ucb' } as unknown as BanditOptions))).toEqual(['options.strategy']);
    expect(issuePaths(() => createBandit({ arms: ['a'], seed: Number.NaN }))).toEqual(['options.seed']);
  });

  it('update of an unknown arm throws naming arm; a reward that is not finite names reward', () => {
    const bandit = createBandit({ arms: ['a'] });
    expect(issuePaths(() => bandit.update('z', 1))).toEqual(['arm']);
    expect(issuePaths(() => bandit.update('a', Number.NaN))).toEqual(['reward']);
    expect(bandit.state()).toEqual([{ arm: 'a', pulls: 0, rewards: 0, mean: 0 }]);
  });
});
