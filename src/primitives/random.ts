/**
 * Seeded random numbers for everything that must replay: the simulated provider's text,
 * bandits' picks, tests' synthetic data. One well-known 32-bit generator (mulberry32) and
 * the few distributions the loops need, drawn from it. Nothing here touches `Math.random`.
 * @module
 */
import { ValidationError } from '../errors.ts';

/**
 * A seeded source of random numbers. Two sources made from the same seed give the same
 * sequence, call for call.
 *
 * @example
 * ```ts
 * const r = createRandom(7);
 * r.next();        // uniform in [0, 1)
 * r.normal(0, 1);  // standard normal
 * r.beta(2, 5);    // in (0, 1)
 * ```
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Normal with mean `mean` (default 0) and standard deviation `sd` (default 1). */
  normal(mean?: number, sd?: number): number;
  /** Gamma with shape `shape` (> 0) and scale 1. Throws a ValidationError naming `shape` otherwise. */
  gamma(shape: number): number;
  /** Beta with shapes `a` and `b` (both > 0). Throws a ValidationError naming `a` or `b` otherwise. */
  beta(a: number, b: number): number;
}

/**
 * mulberry32: a tiny, well-known seeded generator of uniforms in [0, 1) (period 2^32).
 *
 * @example
 * ```ts
 * const next = mulberry32(42);
 * next(); // 0.6011037519201636, always
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkShape(name: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ValidationError('VALUE_INVALID', 'random draw is invalid', [
      { code: 'invalid_value', path: [name], message: `expected a positive finite number, got ${String(value)}` },
    ]);
  }
}

/**
 * Creates a {@link Random} from a seed (any number; it is taken as an unsigned 32-bit integer).
 * Normals use the Box–Muller transform (two uniforms give two normals; the second is kept
 * for the next call), gammas Marsaglia and Tsang's method (shape below 1 by boosting the
 * shape by one and scaling by `U^(1/shape)`), betas two gammas.
 *
 * @example
 * ```ts
 * const r = createRandom(1);
 * const coin = r.next() < 0.3;
 * const p = r.beta(1 + wins, 1 + losses); // a Thompson draw
 * ```
 */
export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  let spare = 0;
  let hasSpare = false;

  const standardNormal = (): number => {
    if (hasSpare) {
      hasSpare = false;
      return spare;
    }
    const u = 1 - next(); // (0, 1]: log is finite
    const v = next();
    const radius = Math.sqrt(-2 * Math.log(u));
    const angle = 2 * Math.PI * v;
    spare = radius * Math.sin(angle);
    hasSpare = true;
    return radius * Math.cos(angle);
  };

  const gamma = (shape: number): number => {
    checkShape('shape', shape);
    if (shape < 1) {
      const u = 1 - next(); // (0, 1]
      return gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = standardNormal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - next(); // (0, 1]
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  };

  return {
    next,
    normal: (mean = 0, sd = 1) => mean + sd * standardNormal(),
    gamma,
    beta: (a, b) => {
      checkShape('a', a);
      checkShape('b', b);
      const x = gamma(a);
      const y = gamma(b);
      const sum = x + y;
      // both underflowed (tiny shapes): fall back on which side is likelier
      return sum > 0 ? x / sum : next() < a / (a + b) ? 1 : 0;
    },
  };
}
