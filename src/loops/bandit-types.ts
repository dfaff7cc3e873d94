/**
 * Multi-armed bandits as interfaces: the options of a bandit, one arm's state, and the
 * bandit that picks arms and learns from rewards. `createBandit` (bandit.ts) implements them.
 * @module
 */

/**
 * How a bandit picks among its arms.
 *
 * @example
 * ```ts
 * const o: BanditOptions = { arms: ['sim:a', 'sim:b'], strategy: 'thompson', rewards: 'binary', seed: 7 };
 * ```
 */
export interface BanditOptions {
  readonly arms: readonly string[];
  /** Default `thompson`. */
  readonly strategy?: 'epsilon-greedy' | 'thompson' | undefined;
  /** `binary`: rewards in [0, 1], Beta posteriors; `gaussian`: any real reward, Normal posteriors. Default `binary`. */
  readonly rewards?: 'binary' | 'gaussian' | undefined;
  /** Epsilon-greedy: share of random picks. Default 0.1. */
  readonly epsilon?: number | undefined;
  /** Seed of the bandit's random numbers: the same seed and rewards give the same picks. Default 1. */
  readonly seed?: number | undefined;
}

/**
 * One arm's state.
 *
 * @example
 * ```ts
 * const a: ArmState = { arm: 'sim:a', pulls: 10, rewards: 8, mean: 0.7 };
 * ```
 */
export interface ArmState {
  readonly arm: string;
  /** Times chosen. */
  readonly pulls: number;
  /** Rewards received. */
  readonly rewards: number;
  /** Mean reward received (0 before any). */
  readonly mean: number;
}

/**
 * A multi-armed bandit.
 *
 * @example
 * ```ts
 * const b = createBandit({ arms: ['a', 'b'], seed: 1 });
 * const arm = b.choose();
 * b.update(arm, 1);
 * ```
 */
export interface Bandit {
  choose(): string;
  update(arm: string, reward: number): void;
  state(): readonly ArmState[];
}
