/**
 * The budget rules (budgets in USD, quotas on runs/calls/tokens, concurrent-run limits) as
 * zod schemas, in TypeScript or as a YAML/JSON document (`parseBudgetRules`) a CLI can load.
 * @module
 */
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { globMatcher } from '../policy/match.ts';
import { ValidationError, toIssues } from '../../errors.ts';

const Name = z.string().min(1).max(200);
const Per = z.enum(['tenant', 'user', 'project', 'global']);
const Period = z.enum(['day', 'month', 'total']);
const Pattern = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/**
 * What a rule applies to: each field a value, a `*` glob, or a list of them (all fields must match).
 *
 * @example
 * ```ts
 * BudgetMatchSchema.parse({ tenant: ['acme', 'globex'], model: 'openai:*' });
 * ```
 */
export const BudgetMatchSchema = z.strictObject({ tenant: Pattern.optional(), topology: Pattern.optional(), model: Pattern.optional() });

/**
 * A spending cap in USD per tenant, user, project or overall, per day, month or in total.
 *
 * @example
 * ```ts
 * BudgetRuleSchema.parse({ name: 'acme-daily', per: 'tenant', period: 'day', limitUsd: 50, onExceeded: { route: 'openai:gpt-4o-mini' } });
 * ```
 */
export const BudgetRuleSchema = z.strictObject({
  name: Name,
  per: Per,
  period: Period,
  limitUsd: z.number().nonnegative().finite(),
  match: BudgetMatchSchema.optional(),
  onExceeded: z.union([z.literal('deny'), z.strictObject({ route: z.string().regex(/^[^:\s]+:\S+$/, "expected a model reference 'provider:model'") })]).optional(),
});

/**
 * A quota: at most `runs`, `calls` or `tokens` (exactly one) per period.
 *
 * @example
 * ```ts
 * QuotaRuleSchema.parse({ name: 'free-runs', per: 'tenant', period: 'day', runs: 100 });
 * ```
 */
export const QuotaRuleSchema = z.strictObject({
  name: Name,
  per: Per,
  period: Period,
  runs: z.number().int().nonnegative().optional(),
  calls: z.number().int().nonnegative().optional(),
  tokens: z.number().int().nonnegative().optional(),
  match: BudgetMatchSchema.optional(),
}).refine((q) => [q.runs, q.calls, q.tokens].filter((v) => v !== undefined).length === 1, { message: 'expected exactly one of runs, calls or tokens' });

/**
 * A limit on runs in flight at once per tenant, user or project (held across processes through the ledger).
 *
 * @example
 * ```ts
 * ConcurrencyRuleSchema.parse({ name: 'acme-parallel', per: 'tenant', max: 20 });
 * ```
 */
export const ConcurrencyRuleSchema = z.strictObject({
  name: Name,
  per: z.enum(['tenant', 'user', 'project']),
  max: z.number().int().positive(),
  match: BudgetMatchSchema.pick({ tenant: true, topology: true }).optional(),
});

/**
 * The fields of a rules document, shared by {@link BudgetRulesSchema} and the budget guard's options.
 *
 * @example
 * ```ts
 * const schema = z.strictObject({ ...budgetRulesShape });
 * ```
 */
export const budgetRulesShape = {
  budgets: z.array(BudgetRuleSchema).optional(),
  quotas: z.array(QuotaRuleSchema).optional(),
  concurrency: z.array(ConcurrencyRuleSchema).optional(),
  /** How long a hold lives without news (a crashed worker's holds are freed after it); default 10 minutes. */
  reservationTtlMs: z.number().int().positive().optional(),
};

/**
 * Adds an issue for each rule name used twice across budgets, quotas and concurrency.
 *
 * @example
 * ```ts
 * const schema = z.strictObject({ ...budgetRulesShape }).superRefine(uniqueRuleNames);
 * ```
 */
export function uniqueRuleNames(r: { budgets?: readonly { name: string }[] | undefined; quotas?: readonly { name: string }[] | undefined; concurrency?: readonly { name: string }[] | undefined }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const list of ['budgets', 'quotas', 'concurrency'] as const) {
    (r[list] ?? []).forEach((rule, i) => {
      if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: [list, i, 'name'], message: `the rule name ${JSON.stringify(rule.name)} is used twice` });
      seen.add(rule.name);
    });
  }
}

/**
 * Schema of a rules document ({@link BudgetRules}): rule names unique across the lists.
 *
 * @example
 * ```ts
 * BudgetRulesSchema.parse({ budgets: [{ name: 'all', per: 'global', period: 'month', limitUsd: 1000 }] });
 * ```
 */
export const BudgetRulesSchema = z.strictObject(budgetRulesShape).superRefine(uniqueRuleNames);

/**
 * A budget rule. @see BudgetRuleSchema
 *
 * @example
 * ```ts
 * const b: BudgetRule = { name: 'acme-daily', per: 'tenant', period: 'day', limitUsd: 50 };
 * ```
 */
export type BudgetRule = z.output<typeof BudgetRuleSchema>;
/**
 * A quota rule. @see QuotaRuleSchema
 *
 * @example
 * ```ts
 * const q: QuotaRule = { name: 'calls', per: 'user', period: 'day', calls: 500 };
 * ```
 */
export type QuotaRule = z.output<typeof QuotaRuleSchema>;
/**
 * A concurrency rule. @see ConcurrencyRuleSchema
 *
 * @example
 * ```ts
 * const c: ConcurrencyRule = { name: 'parallel', per: 'tenant', max: 10 };
 * ```
 */
export type ConcurrencyRule = z.output<typeof ConcurrencyRuleSchema>;
/**
 * What a rule matches on. @see BudgetMatchSchema
 *
 * @example
 * ```ts
 * const m: BudgetMatch = { model: 'openai:*' };
 * ```
 */
export type BudgetMatch = z.output<typeof BudgetMatchSchema>;
/**
 * A rules document. @see BudgetRulesSchema
 *
 * @example
 * ```ts
 * const rules: BudgetRules = { quotas: [{ name: 'runs', per: 'tenant', period: 'day', runs: 1000 }] };
 * ```
 */
export type BudgetRules = z.output<typeof BudgetRulesSchema>;

/**
 * Parses budget rules from a YAML or JSON text (or an already parsed value). Throws a
 * `ValidationError` `BUDGET_RULES_INVALID` whose issues name each bad field's path.
 *
 * @example
 * ```ts
 * const rules = parseBudgetRules('budgets:\n  - { name: acme-daily, per: tenant, period: day, limitUsd: 50 }\n');
 * ```
 */
export function parseBudgetRules(doc: unknown): BudgetRules {
  let value = doc;
  if (typeof doc === 'string') {
    try {
      value = parseYaml(doc);
    } catch (e) {
      throw new ValidationError('BUDGET_RULES_INVALID', 'budget rules are not valid YAML or JSON', [{ code: 'invalid_syntax', path: [], message: e instanceof Error ? e.message : String(e) }], { cause: e });
    }
  }
  const r = BudgetRulesSchema.safeParse(value ?? {});
  if (!r.success) throw new ValidationError('BUDGET_RULES_INVALID', 'budget rules are invalid', toIssues(r.error.issues));
  return r.data;
}

/**
 * Whether `value` matches a rule's pattern (a value, a `*` glob, or a list of them); an absent pattern matches anything.
 *
 * @example
 * ```ts
 * matchesPattern('openai:*', 'openai:gpt-4o'); // true
 * ```
 */
export function matchesPattern(pattern: string | readonly string[] | undefined, value: string | undefined): boolean {
  return pattern === undefined || (value !== undefined && globMatcher(pattern)(value));
}
