/**
 * Token and cost totals being added up (per node, per run, per tenant, per engine).
 * @module
 */
import type { Usage, UsageTotals } from '../providers/types.ts';

/**
 * The mutable form of {@link UsageTotals}.
 *
 * @example
 * ```ts
 * const t: Totals = zeroTotals();
 * ```
 */
export type Totals = { -readonly [K in keyof UsageTotals]: UsageTotals[K] };

/**
 * Fresh zero totals.
 *
 * @example
 * ```ts
 * const t = zeroTotals(); // { inputTokens: 0, ..., calls: 0 }
 * ```
 */
export function zeroTotals(): Totals {
  return { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 };
}

/**
 * Adds one model call's usage and cost to totals.
 *
 * @example
 * ```ts
 * addUsage(t, { inputTokens: 10, outputTokens: 5, cachedTokens: 0, reasoningTokens: 0 }, 0.0001);
 * ```
 */
export function addUsage(t: Totals, u: Usage, costUsd: number, calls = 1): void {
  t.inputTokens += u.inputTokens;
  t.outputTokens += u.outputTokens;
  t.cachedTokens += u.cachedTokens;
  t.reasoningTokens += u.reasoningTokens;
  t.costUsd += costUsd;
  t.calls += calls;
}

/**
 * Adds totals to totals (e.g. what a recovered run's nodes spent before a crash).
 *
 * @example
 * ```ts
 * addTotals((run.usage ??= zeroTotals()), spent);
 * ```
 */
export function addTotals(t: Totals, u: UsageTotals): void {
  t.inputTokens += u.inputTokens;
  t.outputTokens += u.outputTokens;
  t.cachedTokens += u.cachedTokens;
  t.reasoningTokens += u.reasoningTokens;
  t.costUsd += u.costUsd;
  t.calls += u.calls;
}
