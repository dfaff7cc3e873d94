/**
 * SLO rules as data: their zod schema (the one place their fields are documented), and a loader
 * for a JSON or YAML document of rules whose errors name the path of each bad field.
 * @module
 */
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { ValidationError, toIssues, type Issue } from '../errors.ts';

const name = z.string().min(1);
const common = {
  /** Names the rule in its alerts; unique among the rules. */
  name,
  /** Sliding window the value is computed over, ms. */
  windowMs: z.number().int().positive(),
  /** How long the condition must hold before the alert fires, ms (default 0: at once). */
  forMs: z.number().int().nonnegative().optional(),
  /** Only runs (or model calls) of this topology. */
  topology: name.optional(),
  /** Free text carried into the alerts. */
  description: z.string().optional(),
};
/** Model-call filters: events that carry them are model calls (`model.call`), not runs. */
const callFilters = {
  /** Only calls of this model reference (`openai:gpt-4o-mini`): needs scope `model-call`. */
  model: name.optional(),
  /** Only calls of runs of this tenant (RunOptions `tenant`): needs scope `model-call`. */
  tenant: name.optional(),
};
/** What a rate or latency is computed over: top-level runs (default) or each model call. */
const scope = z.enum(['run', 'model-call']).optional();
/** Fewest samples in the window before the rule may fire (default 10). */
const minSamples = z.number().int().positive().optional();

const FailureRate = z.strictObject({
  ...common, ...callFilters, scope, minSamples,
  kind: z.literal('failure-rate'),
  /** Fires when failed / (completed + failed) exceeds this share (0–1). Model calls: failed / all, cancellations left out. */
  threshold: z.number().min(0).max(1),
});
const P99Latency = z.strictObject({
  ...common, ...callFilters, scope, minSamples,
  kind: z.literal('p99-latency'),
  /** Fires when the 99th percentile duration (ms) of runs (start to end) or model calls exceeds this. */
  threshold: z.number().positive(),
});
const CostRate = z.strictObject({
  ...common, ...callFilters,
  kind: z.literal('cost-rate'),
  /** Fires when model-call spend over the window, in USD per minute, exceeds this. */
  threshold: z.number().nonnegative(),
});

/**
 * zod schema of one {@link SloRule}: a discriminated union on `kind`.
 *
 * @example
 * ```ts
 * SloRuleSchema.parse({ name: 'rag-failures', kind: 'failure-rate', threshold: 0.05, windowMs: 300_000, topology: 'rag' });
 * ```
 */
export const SloRuleSchema = z.discriminatedUnion('kind', [FailureRate, P99Latency, CostRate]).superRefine((r, ctx) => {
  if (r.kind === 'cost-rate' || r.scope === 'model-call') return;
  for (const f of ['model', 'tenant'] as const) {
    if (r[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `a '${f}' filter needs scope 'model-call' (run events carry no ${f})` });
  }
});

/**
 * One SLO rule: `failure-rate`, `p99-latency` (ms) or `cost-rate` (USD per minute), over a
 * sliding window, optionally filtered by topology, model and tenant.
 *
 * @example
 * ```ts
 * const rule: SloRule = { name: 'slow-calls', kind: 'p99-latency', scope: 'model-call', model: 'openai:gpt-4o', threshold: 8_000, windowMs: 60_000, forMs: 120_000 };
 * ```
 */
export type SloRule = Readonly<z.input<typeof SloRuleSchema>>;

/**
 * zod schema of a list of rules: each valid, names unique.
 *
 * @example
 * ```ts
 * SloRulesSchema.parse([{ name: 'spend', kind: 'cost-rate', threshold: 0.5, windowMs: 60_000 }]);
 * ```
 */
export const SloRulesSchema = z.array(SloRuleSchema).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `rule name '${r.name}' is used twice` });
    seen.add(r.name);
  });
});

/**
 * Validates rules; throws a ValidationError (`SLO_RULE_INVALID`) whose issues name each bad field
 * under `prefix` (e.g. `rules.2.threshold`).
 *
 * @example
 * ```ts
 * const rules = validateSloRules(JSON.parse(text));
 * ```
 */
export function validateSloRules(rules: unknown, prefix: readonly (string | number)[] = ['rules']): readonly SloRule[] {
  const r = SloRulesSchema.safeParse(rules);
  if (!r.success) throw new ValidationError('SLO_RULE_INVALID', 'SLO rules are invalid', toIssues(r.error.issues, prefix));
  return r.data;
}

/**
 * Reads SLO rules from a JSON or YAML document: a list of rules, or `{ rules: [...] }`. Throws a
 * ValidationError: `SLO_RULES_UNREADABLE` for a syntax error (with line and column), else
 * `SLO_RULE_INVALID` naming each bad field's path.
 *
 * @example
 * ```ts
 * const rules = parseSloRules(`
 * rules:
 *   - { name: failures, kind: failure-rate, threshold: 0.05, windowMs: 300000 }
 * `);
 * createTelemetry({ alerts: rules });
 * ```
 */
export function parseSloRules(text: string): readonly SloRule[] {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues: Issue[] = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return { code: 'invalid_syntax', path: [], message: pos === undefined ? e.message : `${pos.line}:${pos.col}: ${e.message}` };
    });
    throw new ValidationError('SLO_RULES_UNREADABLE', 'SLO rules document cannot be read', issues);
  }
  const value: unknown = doc.toJS();
  if (Array.isArray(value)) return validateSloRules(value, []);
  const r = z.strictObject({ rules: z.array(z.unknown()) }).safeParse(value);
  if (!r.success) throw new ValidationError('SLO_RULE_INVALID', 'SLO rules are invalid', toIssues(r.error.issues));
  return validateSloRules(r.data.rules, ['rules']);
}
