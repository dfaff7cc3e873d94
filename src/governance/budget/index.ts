/**
 * Budgets (USD), quotas (runs, calls, tokens) and concurrent-run limits that hold under
 * concurrency and across workers: a guard over an atomic ledger (memory, SQLite, PostgreSQL).
 *
 * @example
 * ```ts
 * import { createBudgetGuard, openLedger, parseBudgetRules } from 'llm-orchestrator/governance';
 * const rules = parseBudgetRules('budgets:\n  - { name: daily, per: tenant, period: day, limitUsd: 50 }\n');
 * const budget = createBudgetGuard({ ledger: await openLedger('sqlite:budget.db'), ...rules });
 * ```
 * @module
 */
export { createBudgetGuard } from './guard.ts';
export { ledgerKey, periodBucket, type BudgetSubject } from './keys.ts';
export { firstRefused, ledgerFailed, mergeLines, type BudgetLedger, type KeyUsage, type LedgerLine, type ReserveRequest, type ReserveResult } from './ledger.ts';
export { createMemoryLedger } from './memory.ts';
export { openLedger } from './open.ts';
export { SQLITE_LEDGER_MIGRATIONS, SqliteLedgerOptionsSchema, createSqliteLedger, type SqliteLedgerOptions } from './sqlite.ts';
export {
  BudgetMatchSchema, BudgetRuleSchema, BudgetRulesSchema, ConcurrencyRuleSchema, QuotaRuleSchema, budgetRulesShape, matchesPattern, parseBudgetRules, uniqueRuleNames,
  type BudgetMatch, type BudgetRule, type BudgetRules, type ConcurrencyRule, type QuotaRule,
} from './rules.ts';
export { BudgetGuardOptionsSchema, type BudgetEvent, type BudgetGuard, type BudgetGuardOptions, type BudgetUsage } from './types.ts';
