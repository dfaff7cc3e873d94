/**
 * Options, events and the handle of the budget guard (`createBudgetGuard`).
 * @module
 */
import * as z from 'zod';
import type { Guard } from '../../definition/guard.ts';
import type { PolicyError } from '../../errors.ts';
import type { BudgetSubject } from './keys.ts';
import type { BudgetLedger } from './ledger.ts';
import { budgetRulesShape, uniqueRuleNames, type ConcurrencyRule, type BudgetRule, type QuotaRule } from './rules.ts';

const isLedger = (v: unknown): v is BudgetLedger =>
  typeof v === 'object' && v !== null && ['reserve', 'extend', 'settle', 'release', 'usage'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function');

/**
 * Schema of {@link BudgetGuardOptions}.
 *
 * @example
 * ```ts
 * BudgetGuardOptionsSchema.parse({ ledger: createMemoryLedger(), budgets: [{ name: 'all', per: 'global', period: 'day', limitUsd: 5 }] });
 * ```
 */
export const BudgetGuardOptionsSchema = z.strictObject({
  ...budgetRulesShape,
  ledger: z.custom<BudgetLedger>(isLedger, 'expected a budget ledger (openLedger, createMemoryLedger, ...)'),
  name: z.string().min(1).optional(),
  clock: z.custom<() => number>((v) => typeof v === 'function', 'expected a function returning epoch milliseconds').optional(),
  onEvent: z.custom<(e: BudgetEvent) => void>((v) => typeof v === 'function', 'expected a function').optional(),
  extendAt: z.number().gt(0).lte(1).optional(),
}).superRefine(uniqueRuleNames);

/**
 * Options of {@link createBudgetGuard}.
 *
 * @example
 * ```ts
 * const o: BudgetGuardOptions = { ledger, budgets: [{ name: 'acme-daily', per: 'tenant', period: 'day', limitUsd: 50, match: { tenant: 'acme' } }] };
 * ```
 */
export interface BudgetGuardOptions {
  readonly ledger: BudgetLedger;
  readonly budgets?: readonly BudgetRule[];
  readonly quotas?: readonly QuotaRule[];
  readonly concurrency?: readonly ConcurrencyRule[];
  /** How long a hold lives without news: holds of live runs and calls are refreshed well before (default 10 minutes). */
  readonly reservationTtlMs?: number;
  /** The guard's name in errors and events (default `budget`). */
  readonly name?: string;
  /** Epoch milliseconds (periods and expiry); default `Date.now`. */
  readonly clock?: () => number;
  /** Told of every refusal and every ledger failure. */
  readonly onEvent?: (e: BudgetEvent) => void;
  /** Share of a call's hold streamed before more is asked for, ahead of need (default 0.8). */
  readonly extendAt?: number;
}

/**
 * What the budget guard reports: each refusal (a run, a call, or a stream it cut) and each ledger failure.
 *
 * @example
 * ```ts
 * const e: BudgetEvent = { type: 'refused', stage: 'call', rule: 'acme-daily', code: 'BUDGET_EXCEEDED', key: 'cost|acme-daily|tenant=acme|day=2026-12-03', remaining: 0.01, limit: 50, runId: 'r1' };
 * ```
 */
export type BudgetEvent =
  | {
    readonly type: 'refused';
    readonly stage: 'run' | 'call' | 'stream';
    readonly rule: string;
    readonly code: PolicyError['code'];
    readonly key: string;
    readonly remaining: number;
    readonly limit: number;
    readonly runId: string;
  }
  | { readonly type: 'ledger-failed'; readonly op: string; readonly error: unknown; readonly runId?: string | undefined };

/**
 * A rule's totals for a subject in the current period.
 *
 * @example
 * ```ts
 * const u: BudgetUsage = { rule: 'acme-daily', key: 'cost|acme-daily|tenant=acme|day=2026-12-03', spent: 3, reserved: 0.5, limit: 50, remaining: 46.5 };
 * ```
 */
export interface BudgetUsage {
  readonly rule: string;
  readonly key: string;
  readonly spent: number;
  readonly reserved: number;
  readonly limit: number;
  readonly remaining: number;
}

/**
 * The budget guard: a {@link Guard} for `createEngine({ guard })`, with its totals and health.
 *
 * @example
 * ```ts
 * const budget = createBudgetGuard({ ledger, budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: 50 }] });
 * const engine = createEngine({ models, guard: budget });
 * console.log(await budget.remaining('daily', { tenant: 'acme' }));
 * ```
 */
export interface BudgetGuard extends Guard {
  /** A rule's totals for a subject now (a concurrency rule: runs in flight as `reserved`). */
  usage(rule: string, subject?: BudgetSubject): Promise<BudgetUsage>;
  /** What a rule has left for a subject now (USD, runs, calls, tokens, or run slots). */
  remaining(rule: string, subject?: BudgetSubject): Promise<number>;
  /** Resolves once every settle/release/extend started so far has finished. */
  flush(): Promise<void>;
  /** Ledger failures so far (each also reported through `onEvent`). */
  readonly failures: number;
  /** Stops refreshing holds (they expire after the TTL); the ledger is the caller's to close. */
  stop(): void;
}
