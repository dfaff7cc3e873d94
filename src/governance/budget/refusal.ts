/**
 * What a refused ledger line means: the PolicyError code of each kind of line
 * (`BUDGET_EXCEEDED`, `QUOTA_EXCEEDED`, `CONCURRENCY_LIMIT`), the error naming the rule and what
 * it has left, and the `refused` event reporting it.
 * @module
 */
import { PolicyError, type PolicyErrorCode } from '../../errors.ts';
import type { ReserveResult } from './ledger.ts';
import type { BudgetLine, LineKind } from './lines.ts';
import type { BudgetEvent } from './types.ts';

const CODE: Record<LineKind, PolicyErrorCode> = { cost: 'BUDGET_EXCEEDED', runs: 'QUOTA_EXCEEDED', calls: 'QUOTA_EXCEEDED', tokens: 'QUOTA_EXCEEDED', conc: 'CONCURRENCY_LIMIT' };
const UNIT: Record<LineKind, string> = { cost: 'USD', runs: 'runs', calls: 'calls', tokens: 'tokens', conc: 'runs in flight' };

/**
 * A ledger's refusal: the key that had no room, what it had left and its limit.
 *
 * @example
 * ```ts
 * const r: Refused = { ok: false, key: 'cost|daily|tenant=acme|day=2026-12-03', remaining: 0.01, limit: 50 };
 * ```
 */
export type Refused = Extract<ReserveResult, { ok: false }>;

/**
 * Where a refusal happened: reserving for a run, for a call, or extending a streaming call's hold.
 *
 * @example
 * ```ts
 * const stage: RefusalStage = 'stream';
 * ```
 */
export type RefusalStage = 'run' | 'call' | 'stream';

/**
 * The error and the `refused` event of a ledger refusal of `lines` (the refused key must be one of
 * them); `need`, when given, is what the call asked for on that line.
 *
 * @example
 * ```ts
 * const { error, event } = refusalOf('budget', 'call', r, lines, 'r1', 0.25);
 * onEvent(event); // { type: 'refused', stage: 'call', rule: 'daily', code: 'BUDGET_EXCEEDED', ... }
 * throw error;    // PolicyError: budget: rule daily has 0.01 USD left of 50 (cost|daily|...); it needs 0.25
 * ```
 */
export function refusalOf(guard: string, stage: RefusalStage, r: Refused, lines: readonly BudgetLine[], runId: string, need?: number): { error: PolicyError; event: BudgetEvent } {
  const line = lines.find((l) => l.key === r.key)!;
  const code = CODE[line.kind];
  const event: BudgetEvent = { type: 'refused', stage, rule: line.rule, code, key: r.key, remaining: r.remaining, limit: r.limit, runId };
  const needs = need === undefined ? '' : `; it needs ${need}`;
  const error = new PolicyError(code, `${guard}: rule ${line.rule} has ${r.remaining} ${UNIT[line.kind]} left of ${r.limit} (${r.key})${needs}`, { rule: line.rule });
  return { error, event };
}
