/**
 * `parsePolicyRules`: reads a policy document (YAML or JSON text, or a value that may hold
 * TypeScript rules) and checks every rule against the schema and across its fields, naming each
 * bad field (`rules.2.match.model`).
 *
 * @example
 * ```ts
 * const doc = parsePolicyRules('rules: [{ name: deny-all, action: deny }]');
 * ```
 * @module
 */
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { ValidationError, toIssues, type Issue } from '../../errors.ts';
import { PII_TYPES } from '../pii/types.ts';
import {
  PolicyFrameSchema, PolicyMatchSchema, PolicyRuleSchema,
  type CustomPolicyRule, type PolicyActionName, type PolicyDocument, type PolicyMatch, type PolicyRule, type PolicyStage,
} from './schema.ts';

const onError = z.enum(['closed', 'open']);
const kindName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a data class such as email or api_key');

const CustomRuleSchema = z.strictObject({
  name: z.string().min(1).max(200),
  stage: z.enum(['run', 'call', 'output', 'tool']).optional(),
  match: PolicyMatchSchema.optional(),
  onError: onError.optional(),
  check: z.custom<(s: never) => unknown>((f) => typeof f === 'function', 'a function (subject) => outcome'),
});

/** The action each stage allows. */
const STAGE_ACTIONS: Readonly<Record<PolicyStage, readonly PolicyActionName[]>> = {
  run: ['allow', 'deny'],
  call: ['allow', 'deny', 'redact', 'route', 'approval', 'cap'],
  output: ['allow', 'deny', 'redact'],
  tool: ['allow', 'deny', 'redact'],
};
/** The match fields a stage cannot use, and why. */
const STAGE_UNMATCHED: Readonly<Record<PolicyStage, readonly (readonly [keyof PolicyMatch, string])[]>> = {
  run: [
    ['node', 'runs are checked before any node or model'],
    ['model', 'runs are checked before any node or model'],
    ['tool', 'only tool-stage rules match on the tool'],
  ],
  call: [['tool', 'only tool-stage rules match on the tool']],
  output: [['tool', 'only tool-stage rules match on the tool']],
  tool: [['model', 'a tool call has no model']],
};
const PARTICULARS = ['redact', 'route', 'approval', 'cap'] as const;

/**
 * Options of {@link parsePolicyRules}.
 *
 * @example
 * ```ts
 * const o: ParsePolicyOptions = { format: 'json', dataClasses: [...PII_TYPES, 'employee_id'] };
 * ```
 */
export interface ParsePolicyOptions {
  /** How a text is read (default `yaml`, which reads JSON too). */
  readonly format?: 'yaml' | 'json' | undefined;
  /** The data classes rules may name (default: the built-in PII types; add custom detectors' types). */
  readonly dataClasses?: readonly string[] | undefined;
}

const ParseOptionsSchema = z.strictObject({
  format: z.enum(['yaml', 'json']).optional(),
  dataClasses: z.array(kindName).optional(),
});

/**
 * Reads and checks a policy document: a YAML or JSON text, or a value (which may hold
 * TypeScript rules). Every problem is reported at once in a `ValidationError` (`POLICY_INVALID`,
 * or `POLICY_UNREADABLE` for a text that is not YAML/JSON) naming its path, e.g.
 * `rules.2.match.model`, `rules.0.route` ("action 'route' needs route.model"), `rules.3.name`
 * (a duplicate). Checks: each action's particulars are present (and only its own), a stage's
 * actions (run: allow, deny; output and tool: allow, deny, redact), run rules match no node,
 * model or tool, only tool rules match on `tool` and they match no model, data classes are known.
 *
 * @example
 * ```ts
 * const doc = parsePolicyRules('{"rules":[{"name":"cap","action":"cap","cap":{"maxTokens":256}}]}', { format: 'json' });
 * doc.rules[0]; // { name: 'cap', stage: 'call', action: 'cap', cap: { maxTokens: 256 } }
 * ```
 */
export function parsePolicyRules(textOrValue: unknown, options: ParsePolicyOptions = {}): PolicyDocument {
  const o = ParseOptionsSchema.safeParse(options);
  if (!o.success) throw new ValidationError('OPTIONS_INVALID', 'policy parse options are invalid', toIssues(o.error.issues, ['options']));
  const value = typeof textOrValue === 'string' ? readText(textOrValue, o.data.format ?? 'yaml') : textOrValue;
  const frame = PolicyFrameSchema.safeParse(value);
  if (!frame.success) throw invalid(toIssues(frame.error.issues));
  const known = new Set(o.data.dataClasses ?? PII_TYPES);
  const issues: Issue[] = [];
  const rules: (PolicyRule | CustomPolicyRule)[] = [];
  const names = new Map<string, number>();
  frame.data.rules.forEach((raw, i) => {
    const at = ['rules', i];
    const custom = typeof raw === 'object' && raw !== null && 'check' in raw;
    const r = (custom ? CustomRuleSchema : PolicyRuleSchema).safeParse(raw);
    if (!r.success) {
      issues.push(...toIssues(r.error.issues, at));
      return;
    }
    const rule = r.data as PolicyRule | (z.output<typeof CustomRuleSchema>);
    const first = names.get(rule.name);
    if (first !== undefined) issues.push({ code: 'duplicate_rule', path: [...at, 'name'], message: `rule name '${rule.name}' is already used by rules.${first}` });
    else names.set(rule.name, i);
    const stage: PolicyStage = rule.stage ?? 'call';
    const match = rule.match;
    for (const [f, why] of STAGE_UNMATCHED[stage]) {
      if (match?.[f] !== undefined) issues.push({ code: 'invalid_match', path: [...at, 'match', f], message: `a ${stage}-stage rule cannot match on ${f} (${why})` });
    }
    checkKinds(match?.dataClass, [...at, 'match', 'dataClass'], known, issues);
    if (!custom) {
      const d = rule as PolicyRule;
      if (!STAGE_ACTIONS[stage].includes(d.action)) {
        issues.push({ code: 'invalid_action', path: [...at, 'action'], message: `a ${stage}-stage rule can ${STAGE_ACTIONS[stage].join(', ')}, not ${d.action}` });
      }
      for (const p of PARTICULARS) {
        if (p === d.action && d[p] === undefined) issues.push({ code: 'missing_field', path: [...at, p], message: needs(p) });
        if (p !== d.action && d[p] !== undefined) issues.push({ code: 'unexpected_field', path: [...at, p], message: `${p} is only for action '${p}', this rule's action is '${d.action}'` });
      }
      checkKinds(d.redact?.kinds, [...at, 'redact', 'kinds'], known, issues);
      rules.push(d);
    } else rules.push(raw as CustomPolicyRule);
  });
  if (issues.length > 0) throw invalid(issues);
  const doc: { -readonly [K in keyof PolicyDocument]: PolicyDocument[K] } = { rules };
  if (frame.data.version !== undefined) doc.version = frame.data.version;
  if (frame.data.defaults !== undefined) doc.defaults = frame.data.defaults;
  if (frame.data.tenants !== undefined) doc.tenants = frame.data.tenants;
  return doc;
}

function needs(p: (typeof PARTICULARS)[number]): string {
  switch (p) {
    case 'redact': return "action 'redact' needs redact.mode";
    case 'route': return "action 'route' needs route.model";
    case 'approval': return "action 'approval' needs approval.name";
    case 'cap': return "action 'cap' needs cap.maxTokens";
  }
}

function checkKinds(v: string | readonly string[] | undefined, path: (string | number)[], known: ReadonlySet<string>, issues: Issue[]): void {
  if (v === undefined) return;
  const list = typeof v === 'string' ? [v] : v;
  list.forEach((k, j) => {
    if (!known.has(k)) issues.push({ code: 'unknown_data_class', path: typeof v === 'string' ? path : [...path, j], message: `unknown data class '${k}' (known: ${[...known].join(', ')})` });
  });
}

function readText(text: string, format: 'yaml' | 'json'): unknown {
  if (format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new ValidationError('POLICY_UNREADABLE', 'policy document cannot be read', [{ code: 'invalid_syntax', path: [], message: e instanceof Error ? e.message : String(e) }]);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ValidationError('POLICY_UNREADABLE', 'policy document cannot be read', doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return { code: 'invalid_syntax', path: [], message: pos === undefined ? e.message : `${pos.line}:${pos.col}: ${e.message}` };
    }));
  }
  return doc.toJS() as unknown;
}

function invalid(issues: readonly Issue[]): ValidationError {
  return new ValidationError('POLICY_INVALID', 'policy document is invalid', issues);
}
