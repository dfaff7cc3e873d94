/**
 * The ledger lines of the budget rules: which budgets, quotas and concurrency rules a run or a
 * call matches (each rule's globs compiled once), and the line each one reserves on the ledger
 * (its key for the subject and period, its limit, the amount to hold).
 * @module
 */
import type { CallCheck, CallEstimate, GuardSubject, RunCheck } from '../../definition/guard.ts';
import { ledgerKey, type BudgetSubject } from './keys.ts';
import type { LedgerLine } from './ledger.ts';
import type { BudgetMatch, BudgetRule, ConcurrencyRule, QuotaRule } from './rules.ts';
import { globMatcher } from '../policy/match.ts';

/**
 * What a ledger line counts: USD (`cost`), runs, calls, tokens, or runs in flight (`conc`).
 *
 * @example
 * ```ts
 * const kind: LineKind = 'tokens';
 * ```
 */
export type LineKind = 'cost' | 'runs' | 'calls' | 'tokens' | 'conc';

/**
 * A {@link LedgerLine} with the rule it enforces and what it counts.
 *
 * @example
 * ```ts
 * const line: BudgetLine = { rule: 'daily', kind: 'cost', key: 'cost|daily|tenant=acme|day=2026-12-03', limit: 50, amount: 0.25 };
 * ```
 */
export interface BudgetLine extends LedgerLine {
  readonly rule: string;
  readonly kind: LineKind;
}

/**
 * The lines of a guard's rules for each check (see {@link createRuleLines}).
 *
 * @example
 * ```ts
 * const lines: RuleLines = createRuleLines({ budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: 50 }], quotas: [], concurrency: [] });
 * lines.runLines({ runId: 'r1', topology: 'rag', tenant: 'acme', input: {} }, Date.now()); // []: no run quota or concurrency rule
 * ```
 */
export interface RuleLines {
  /** Whether any rule applies to runs (a run quota or a concurrency rule). */
  readonly anyRun: boolean;
  /** Whether any rule applies to calls (a budget, a call or a token quota). */
  readonly anyCall: boolean;
  /** The lines a run reserves at `now`: one per matching run quota, then one per matching concurrency rule. */
  runLines(c: RunCheck, now: number): BudgetLine[];
  /** The budgets matching a call (on its own model). */
  budgetsFor(c: CallCheck): BudgetRule[];
  /** The lines a call reserves at `now` for estimate `e`: one per budget of `matching`, then one per matching call or token quota. */
  callLines(c: CallCheck, e: CallEstimate, now: number, matching: readonly BudgetRule[]): BudgetLine[];
  /** The key and limit of the rule named `rule` for a subject at `now`; undefined when no rule has that name. */
  ruleLine(rule: string, s: BudgetSubject, now: number): { key: string; limit: number } | undefined;
}

/** A rule's match as one predicate, its globs compiled once (as `matchesPattern`: an absent pattern matches anything, an absent value nothing). */
function compileMatch(m: BudgetMatch | undefined): (s: GuardSubject, model?: string) => boolean {
  if (m === undefined) return () => true;
  const field = (p: string | readonly string[] | undefined): ((v: string | undefined) => boolean) => {
    if (p === undefined) return () => true;
    const g = globMatcher(p);
    return (v) => v !== undefined && g(v);
  };
  const tenant = field(m.tenant);
  const topology = field(m.topology);
  const model = field(m.model);
  return (s, ref) => tenant(s.tenant) && topology(s.topology) && model(ref);
}

/**
 * The lines of a set of rules, each rule's match compiled once, at creation (checks run per call).
 *
 * @example
 * ```ts
 * const lines = createRuleLines({ budgets: [], quotas: [{ name: 'runs', per: 'tenant', period: 'day', runs: 1000 }], concurrency: [] });
 * lines.runLines({ runId: 'r1', topology: 'rag', tenant: 'acme', input: {} }, Date.now());
 * // [{ rule: 'runs', kind: 'runs', key: 'runs|runs|tenant=acme|day=...', limit: 1000, amount: 1 }]
 * ```
 */
export function createRuleLines(rules: {
  readonly budgets: readonly BudgetRule[];
  readonly quotas: readonly QuotaRule[];
  readonly concurrency: readonly ConcurrencyRule[];
}): RuleLines {
  const { budgets, quotas, concurrency } = rules;
  const runQuotas = quotas.filter((q) => q.runs !== undefined);
  const callQuotas = quotas.filter((q) => q.runs === undefined);
  const compiled = new Map<BudgetMatch | undefined, (s: GuardSubject, model?: string) => boolean>();
  for (const r of [...budgets, ...quotas, ...concurrency]) if (!compiled.has(r.match)) compiled.set(r.match, compileMatch(r.match));
  const matches = (m: BudgetMatch | undefined, s: GuardSubject, model?: string): boolean => compiled.get(m)!(s, model);

  return {
    anyRun: runQuotas.length > 0 || concurrency.length > 0,
    anyCall: budgets.length > 0 || callQuotas.length > 0,
    runLines: (c, now) => [
      ...runQuotas.filter((q) => matches(q.match, c)).map((q): BudgetLine => ({ rule: q.name, kind: 'runs', key: ledgerKey('runs', q.name, q.per, c, q.period, now), limit: q.runs!, amount: 1 })),
      ...concurrency.filter((r) => matches(r.match, c)).map((r): BudgetLine => ({ rule: r.name, kind: 'conc', key: ledgerKey('conc', r.name, r.per, c, undefined, now), limit: r.max, amount: 1 })),
    ],
    budgetsFor: (c) => budgets.filter((b) => matches(b.match, c, c.model)),
    callLines: (c, e, now, matching) => [
      ...matching.map((b): BudgetLine => ({ rule: b.name, kind: 'cost', key: ledgerKey('cost', b.name, b.per, c, b.period, now), limit: b.limitUsd, amount: e.costUsd })),
      ...callQuotas.filter((q) => matches(q.match, c, c.model)).map((q): BudgetLine => (q.calls !== undefined
        ? { rule: q.name, kind: 'calls', key: ledgerKey('calls', q.name, q.per, c, q.period, now), limit: q.calls, amount: 1 }
        : { rule: q.name, kind: 'tokens', key: ledgerKey('tokens', q.name, q.per, c, q.period, now), limit: q.tokens!, amount: e.inputTokens + e.outputTokens })),
    ],
    ruleLine: (rule, s, now) => {
      const b = budgets.find((x) => x.name === rule);
      if (b !== undefined) return { key: ledgerKey('cost', b.name, b.per, s, b.period, now), limit: b.limitUsd };
      const q = quotas.find((x) => x.name === rule);
      if (q !== undefined) {
        const kind = q.runs !== undefined ? 'runs' : q.calls !== undefined ? 'calls' : 'tokens';
        return { key: ledgerKey(kind, q.name, q.per, s, q.period, now), limit: (q.runs ?? q.calls ?? q.tokens)! };
      }
      const r = concurrency.find((x) => x.name === rule);
      if (r !== undefined) return { key: ledgerKey('conc', r.name, r.per, s, undefined, now), limit: r.max };
      return undefined;
    },
  };
}
