/**
 * Rolling statistics of feedback scores: count, mean and variance of every score since
 * the start (Welford's online algorithm) and of the most recent ones (a ring buffer), kept
 * per topology x variant x model x metric.
 * @module
 */
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import type { StatRow } from '../runtime/loop.ts';
import type { Moments, RollingStats, StatKey, StatsBook } from './types.ts';

const WindowSizeSchema = z.number().int().positive();

/**
 * Schema of {@link createStatsBook}'s options.
 *
 * @example
 * ```ts
 * StatsBookOptionsSchema.parse({ windowSize: 500 });
 * ```
 */
export const StatsBookOptionsSchema = z.strictObject({ windowSize: WindowSizeSchema });

/**
 * Options of {@link createStatsBook}.
 *
 * @example
 * ```ts
 * const o: StatsBookOptions = { windowSize: 500 };
 * ```
 */
export type StatsBookOptions = z.infer<typeof StatsBookOptionsSchema>;

function checkValue(value: number): void {
  if (!Number.isFinite(value)) {
    throw new ValidationError('VALUE_INVALID', 'statistic value is invalid', [
      { code: 'invalid_value', path: ['value'], message: `expected a finite number, got ${String(value)}` },
    ]);
  }
}

/**
 * Creates {@link RollingStats} over all values and over the last `windowSize` values.
 * The window adds and removes values with Welford's updates and recomputes its moments
 * exactly from the ring once per `windowSize` removals, so rounding never accumulates.
 * Throws a ValidationError naming `windowSize` when it is not a positive integer, and one
 * naming `value` when a value added is not a finite number.
 *
 * @example
 * ```ts
 * const s = createRollingStats(100);
 * for (const x of [0.8, 0.9, 0.7]) s.add(x);
 * s.all;    // count 3, mean 0.8, variance 0.01 (up to rounding)
 * s.window; // the same until more than 100 values came
 * ```
 */
export function createRollingStats(windowSize: number): RollingStats {
  const parsed = WindowSizeSchema.safeParse(windowSize);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'createRollingStats options are invalid', toIssues(parsed.error.issues, ['windowSize']));

  // every value (Welford)
  let n = 0;
  let mean = 0;
  let m2 = 0;
  // the ring: `wn` values ending at `head - 1`
  const ring = new Float64Array(windowSize);
  let head = 0;
  let wn = 0;
  let wMean = 0;
  let wM2 = 0;
  let removals = 0;

  const recompute = (): void => {
    let s = 0;
    for (let i = 0; i < wn; i++) s += ring[i] ?? 0;
    const mu = s / wn;
    let q = 0;
    for (let i = 0; i < wn; i++) {
      const d = (ring[i] ?? 0) - mu;
      q += d * d;
    }
    wMean = mu;
    wM2 = q;
  };

  return {
    add(value: number): void {
      checkValue(value);
      n++;
      const d = value - mean;
      mean += d / n;
      m2 += d * (value - mean);

      if (wn < windowSize) {
        ring[head] = value;
        head = (head + 1) % windowSize;
        wn++;
        const wd = value - wMean;
        wMean += wd / wn;
        wM2 += wd * (value - wMean);
        return;
      }
      // full: the new value replaces the oldest, which sits where the new one goes
      const old = ring[head] ?? 0;
      ring[head] = value;
      head = (head + 1) % windowSize;
      if (++removals >= windowSize) {
        removals = 0;
        recompute();
        return;
      }
      // replace `old` by `value`, count unchanged
      const oldMean = wMean;
      wMean += (value - old) / wn;
      wM2 += (value - old) * (value - wMean + old - oldMean);
      if (wM2 < 0) wM2 = 0;
    },
    get all(): Moments {
      return { count: n, mean, variance: n > 1 ? Math.max(0, m2 / (n - 1)) : 0 };
    },
    get window(): Moments {
      return { count: wn, mean: wn > 0 ? wMean : 0, variance: wn > 1 ? Math.max(0, wM2 / (wn - 1)) : 0 };
    },
  };
}

const SEP = '\u0000';

/**
 * Creates a {@link StatsBook}: rolling statistics by topology, variant, model and metric,
 * each with the same window size. Throws a ValidationError naming `options.windowSize`
 * when the options are invalid.
 *
 * @example
 * ```ts
 * const book = createStatsBook({ windowSize: 500 });
 * book.add({ topology: 'qa', variant: 'b', model: 'sim:large', metric: 'correct' }, 1);
 * book.rows(); // [{ topology: 'qa', variant: 'b', model: 'sim:large', metric: 'correct', count: 1, mean: 1, ... }]
 * ```
 */
export function createStatsBook(options: StatsBookOptions): StatsBook {
  const parsed = StatsBookOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'createStatsBook options are invalid', toIssues(parsed.error.issues, ['options']));
  const { windowSize } = parsed.data;
  const entries = new Map<string, { key: StatKey; stats: RollingStats }>();
  const id = (k: StatKey): string => [k.topology, k.variant, k.model, k.metric].join(SEP);

  return {
    add(key: StatKey, value: number): void {
      checkValue(value);
      const k = id(key);
      let entry = entries.get(k);
      if (entry === undefined) {
        entry = { key: { topology: key.topology, variant: key.variant, model: key.model, metric: key.metric }, stats: createRollingStats(windowSize) };
        entries.set(k, entry);
      }
      entry.stats.add(value);
    },
    get(key: StatKey): RollingStats | undefined {
      return entries.get(id(key))?.stats;
    },
    rows(): StatRow[] {
      const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
      return [...entries.values()]
        .sort((a, b) =>
          cmp(a.key.topology, b.key.topology) || cmp(a.key.variant, b.key.variant) || cmp(a.key.model, b.key.model) || cmp(a.key.metric, b.key.metric))
        .map(({ key, stats }) => {
          const all = stats.all;
          return { ...key, count: all.count, mean: all.mean, variance: all.variance, window: stats.window };
        });
    },
  };
}
