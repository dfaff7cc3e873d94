/**
 * The policy rules document: its zod schema (the source of the TS types), the TypeScript rules
 * that may sit beside document rules, and `parsePolicyRules`, which reads YAML or JSON and
 * checks every rule, naming each bad field (`rules.2.match.model`).
 *
 * @example
 * ```ts
 * const doc = parsePolicyRules(`
 * rules:
 *   - { name: no-opus-free, match: { tenant: free, model: 'anthropic:*opus*' }, action: deny }
 *   - { name: mask-pii, action: redact, redact: { mode: placeholder, kinds: [email, phone] } }
 * `);
 * ```
 * @module
 */
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { ValidationError, toIssues, type Issue } from '../../errors.ts';
import type { CallCheck, RunCheck } from '../../definition/guard.ts';
import { PII_TYPES } from '../pii/types.ts';

/**
 * Where a rule applies: before a run is admitted, before each model call, or on a call's answer.
 *
 * @example
 * ```ts
 * const s: PolicyStage = 'call';
 * ```
 */
export type PolicyStage = 'run' | 'call' | 'output';

/**
 * What a rule does when it matches.
 *
 * @example
 * ```ts
 * const a: PolicyActionName = 'redact';
 * ```
 */
export type PolicyActionName = 'allow' | 'deny' | 'redact' | 'route' | 'approval' | 'cap';

const onError = z.enum(['closed', 'open']);
const globs = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const kindName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a data class such as email or api_key');
const kinds = z.union([kindName, z.array(kindName).min(1)]);

/**
 * What a rule matches on: each field a glob (`*` matches any run of characters) or a list of
 * them (any may match); `dataClass` lists PII kinds of which the text checked (the prompt, the
 * run input, the answer) must hold at least one. Fields left out match everything.
 *
 * @example
 * ```ts
 * PolicyMatchSchema.parse({ tenant: ['free', 'trial-*'], model: 'openai:gpt-4o*', dataClass: ['credit_card'] });
 * ```
 */
export const PolicyMatchSchema = z.strictObject({
  tenant: globs.optional(),
  user: globs.optional(),
  project: globs.optional(),
  topology: globs.optional(),
  node: globs.optional(),
  model: globs.optional(),
  dataClass: kinds.optional(),
});

/**
 * A rule's match, as the schema reads it.
 *
 * @example
 * ```ts
 * const m: PolicyMatch = { model: 'openai:*', dataClass: 'email' };
 * ```
 */
export type PolicyMatch = z.input<typeof PolicyMatchSchema>;

/**
 * How a `redact` rule rewrites what it finds (see the pii module): `mask` (`****`), `hash`
 * (keyed HMAC token; the guard's `hashKey`) or `placeholder` (`[EMAIL_1]`, restored in the answer
 * within the run). `kinds` limits it to these data classes (default: every one).
 *
 * @example
 * ```ts
 * PolicyRedactSchema.parse({ mode: 'placeholder', kinds: ['email'] });
 * ```
 */
export const PolicyRedactSchema = z.strictObject({
  mode: z.enum(['mask', 'hash', 'placeholder']),
  kinds: kinds.optional(),
});

/**
 * One rule of a document. Cross-field checks (each action's own field, the actions and match
 * fields a stage allows, unique names) are made by {@link parsePolicyRules}.
 *
 * @example
 * ```ts
 * PolicyRuleSchema.parse({ name: 'cap-free', match: { tenant: 'free' }, action: 'cap', cap: { maxTokens: 512 } });
 * ```
 */
export const PolicyRuleSchema = z.strictObject({
  name: z.string().min(1).max(200),
  stage: z.enum(['run', 'call', 'output']).default('call'),
  match: PolicyMatchSchema.optional(),
  action: z.enum(['allow', 'deny', 'redact', 'route', 'approval', 'cap']),
  message: z.string().min(1).max(1000).optional(),
  redact: PolicyRedactSchema.optional(),
  route: z.strictObject({ model: z.string().regex(/^[^:\s]+:\S+$/, "a model reference 'provider:model'") }).optional(),
  approval: z.strictObject({ name: z.string().min(1).max(200), timeoutMs: z.number().int().positive().optional() }).optional(),
  cap: z.strictObject({ maxTokens: z.number().int().positive() }).optional(),
  onError: onError.optional(),
});

/**
 * A document rule after parsing (stage defaulted).
 *
 * @example
 * ```ts
 * const r: PolicyRule = { name: 'deny-all', stage: 'call', action: 'deny' };
 * ```
 */
export type PolicyRule = z.output<typeof PolicyRuleSchema>;

/**
 * The document's frame: version, defaults, tenant weights and the rules (checked one by one).
 *
 * @example
 * ```ts
 * PolicyFrameSchema.parse({ version: 3, tenants: { acme: { weight: 2 } }, rules: [] });
 * ```
 */
export const PolicyFrameSchema = z.strictObject({
  version: z.number().int().nonnegative().optional(),
  defaults: z.strictObject({ onError: onError.default('closed') }).optional(),
  tenants: z.record(z.string().min(1), z.strictObject({ weight: z.number().positive().finite().optional() })).optional(),
  rules: z.array(z.unknown()),
});

/**
 * What a TypeScript rule may answer: an action with its particulars, or `undefined` (no opinion:
 * evaluation goes on). Which actions count depends on the stage: run rules allow or deny; call
 * rules may also redact, route, cap or ask for approval; output rules allow, deny or redact (by
 * data class, or by returning the new `text`).
 *
 * @example
 * ```ts
 * const o: PolicyOutcome = { action: 'route', model: 'openai:gpt-4o-mini' };
 * ```
 */
export type PolicyOutcome =
  | { readonly action: 'allow' }
  | { readonly action: 'deny'; readonly message?: string | undefined }
  | { readonly action: 'redact'; readonly mode: 'mask' | 'hash' | 'placeholder'; readonly kinds?: readonly string[] | undefined }
  | { readonly action: 'route'; readonly model: string }
  | { readonly action: 'approval'; readonly name: string; readonly timeoutMs?: number | undefined }
  | { readonly action: 'cap'; readonly maxTokens: number };

/**
 * What an output-stage TypeScript rule sees: the call and the answer's text.
 *
 * @example
 * ```ts
 * const rule: CustomPolicyRule = { name: 'no-shouting', stage: 'output', check: (s) => (s.text === s.text.toUpperCase() ? { action: 'redact', text: s.text.toLowerCase() } : undefined) };
 * ```
 */
export interface OutputSubject extends CallCheck {
  readonly text: string;
}

type Maybe<T> = T | undefined | Promise<T | undefined>;
interface CustomBase {
  readonly name: string;
  readonly match?: PolicyMatch | undefined;
  readonly onError?: 'closed' | 'open' | undefined;
}

/**
 * A rule written in TypeScript, placed among document rules: `check` sees the run or the call
 * (with earlier rules' changes applied) and answers a {@link PolicyOutcome} or `undefined`. Its
 * `match` is applied first, so `check` only sees what matches. A `check` that throws or rejects
 * fails closed unless `onError: 'open'`.
 *
 * @example
 * ```ts
 * const rule: CustomPolicyRule = {
 *   name: 'long-prompts-to-mini',
 *   check: (c) => (c.estimate.inputTokens > 8_000 ? { action: 'route', model: 'openai:gpt-4o-mini' } : undefined),
 * };
 * ```
 */
export type CustomPolicyRule =
  | (CustomBase & { readonly stage: 'run'; check(subject: RunCheck): Maybe<Extract<PolicyOutcome, { action: 'allow' | 'deny' }>> })
  | (CustomBase & { readonly stage?: 'call' | undefined; check(subject: CallCheck): Maybe<PolicyOutcome> })
  | (CustomBase & {
    readonly stage: 'output';
    check(subject: OutputSubject): Maybe<Extract<PolicyOutcome, { action: 'allow' | 'deny' | 'redact' }> | { readonly action: 'redact'; readonly text: string }>;
  });

/**
 * A policy document: the frame's fields, document rules and, when written in TypeScript,
 * {@link CustomPolicyRule}s among them.
 *
 * @example
 * ```ts
 * const doc: PolicyDocument = { version: 2, tenants: { acme: { weight: 3 } }, rules: [{ name: 'deny-all', stage: 'call', action: 'deny' }] };
 * ```
 */
export interface PolicyDocument extends Omit<z.output<typeof PolicyFrameSchema>, 'rules'> {
  readonly rules: readonly (PolicyRule | CustomPolicyRule)[];
}

/**
 * A policy document as written (stages may be left out).
 *
 * @example
 * ```ts
 * const doc: PolicyDocumentInput = { rules: [{ name: 'deny-all', action: 'deny' }] };
 * ```
 */
export interface PolicyDocumentInput extends Omit<z.input<typeof PolicyFrameSchema>, 'rules'> {
  readonly rules: readonly (z.input<typeof PolicyRuleSchema> | CustomPolicyRule)[];
}

const CustomRuleSchema = z.strictObject({
  name: z.string().min(1).max(200),
  stage: z.enum(['run', 'call', 'output']).optional(),
  match: PolicyMatchSchema.optional(),
  onError: onError.optional(),
  check: z.custom<(s: never) => unknown>((f) => typeof f === 'function', 'a function (subject) => outcome'),
});

/** The action each stage allows. */
const STAGE_ACTIONS: Readonly<Record<PolicyStage, readonly PolicyActionName[]>> = {
  run: ['allow', 'deny'],
  call: ['allow', 'deny', 'redact', 'route', 'approval', 'cap'],
  output: ['allow', 'deny', 'redact'],
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
 * actions (run: allow, deny; output: allow, deny, redact), run rules match no node or model,
 * data classes are known.
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
    if (stage === 'run') {
      for (const f of ['node', 'model'] as const) {
        if (match?.[f] !== undefined) issues.push({ code: 'invalid_match', path: [...at, 'match', f], message: `a run-stage rule cannot match on ${f} (runs are checked before any node or model)` });
      }
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
