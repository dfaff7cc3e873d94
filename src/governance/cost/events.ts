/**
 * The events `watchCost` emits: live totals and cost anomalies.
 * @module
 */
import type { UsageDim } from '../../runtime/usage.ts';

/**
 * The values of the watched dimensions (`null`: not set on the call, e.g. a run without user).
 *
 * @example
 * ```ts
 * const by: CostKey = { tenant: 'acme', model: 'openai:gpt-4o' };
 * ```
 */
export type CostKey = Readonly<Partial<Record<UsageDim, string | null>>>;

/**
 * One row of {@link CostTotalsEvent}: a key's spend since the watch began and in the window just closed.
 *
 * @example
 * ```ts
 * const row: CostTotalsRow = { by: { tenant: 'acme' }, costUsd: 1.2, calls: 40, inputTokens: 9000, outputTokens: 3000, windowCostUsd: 0.1 };
 * ```
 */
export interface CostTotalsRow {
  readonly by: CostKey;
  readonly costUsd: number;
  readonly calls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Spend in the window that just closed. */
  readonly windowCostUsd: number;
}

/**
 * Live totals, at the end of each window: every key seen, most costly first.
 *
 * @example
 * ```ts
 * watchCost(engine.events$).subscribe((e) => { if (e.type === 'cost.totals') render(e.rows); });
 * ```
 */
export interface CostTotalsEvent {
  readonly type: 'cost.totals';
  /** The end of the window, epoch ms (the scheduler's clock). */
  readonly ts: number;
  readonly windowMs: number;
  readonly dims: readonly UsageDim[];
  readonly rows: readonly CostTotalsRow[];
}

/**
 * A key's spend in the window just closed exceeded `k` x its mean over the trailing windows
 * (and `minSpendUsd`). Raised once; the key stays quiet for `cooldownMs` after.
 *
 * @example
 * ```ts
 * watchCost(engine.events$, { dims: ['tenant'] }).subscribe((e) => { if (e.type === 'cost.anomaly') page(`${e.by.tenant} spends ${e.ratio.toFixed(1)}x its usual`); });
 * ```
 */
export interface CostAnomalyEvent {
  readonly type: 'cost.anomaly';
  /** The end of the window, epoch ms. */
  readonly ts: number;
  readonly by: CostKey;
  /** Spend in the window, USD. */
  readonly spendUsd: number;
  /** Mean spend per window over the trailing windows, USD. */
  readonly trailingMeanUsd: number;
  /** spendUsd / trailingMeanUsd (Infinity when the trailing mean is 0). */
  readonly ratio: number;
  readonly k: number;
  readonly windowMs: number;
  readonly trailingWindows: number;
}

/**
 * What `watchCost` emits.
 *
 * @example
 * ```ts
 * const handle = (e: CostEvent): void => console.log(e.type, e.ts);
 * ```
 */
export type CostEvent = CostTotalsEvent | CostAnomalyEvent;
