/**
 * The policy rules document: its zod schema (the source of the TS types), the TypeScript rules
 * that may sit beside document rules, and `parsePolicyRules`, which reads YAML or JSON and
 * checks every rule, naming each bad field (`rules.2.match.model`). Rules apply at one of four
 * stages: `run` (before admission), `call` (before each model call), `output` (a call's answer)
 * and `tool` (a tool call's arguments).
 *
 * @example
 * ```ts
 * const doc = parsePolicyRules(`
 * rules:
 *   - { name: no-opus-free, match: { tenant: free, model: 'anthropic:*opus*' }, action: deny }
 *   - { name: mask-pii, action: redact, redact: { mode: placeholder, kinds: [email, phone] } }
 *   - { name: crm-no-cards, stage: tool, match: { tool: 'crm.*', dataClass: credit_card }, action: deny }
 * `);
 * ```
 * @module
 */
import * as z from 'zod';
import type { CallCheck, RunCheck, ToolCheck } from '../../definition/guard.ts';

/**
 * Where a rule applies: before a run is admitted, before each model call, on a call's answer,
 * or before a tool node calls its tool (on the arguments).
 *
 * @example
 * ```ts
 * const s: PolicyStage = 'tool';
 * ```
 */
export type PolicyStage = 'run' | 'call' | 'output' | 'tool';

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
 * them (any may match); `tool` is the tool's name (tool-stage rules only); `dataClass` lists PII
 * kinds of which the text checked (the prompt, the run input's strings, the answer, the tool
 * arguments' strings) must hold at least one. Fields left out match everything.
 *
 * @example
 * ```ts
 * PolicyMatchSchema.parse({ tenant: ['free', 'trial-*'], model: 'openai:gpt-4o*', dataClass: ['credit_card'] });
 * PolicyMatchSchema.parse({ tool: ['crm.*', 'mail.send'] });
 * ```
 */
export const PolicyMatchSchema = z.strictObject({
  tenant: globs.optional(),
  user: globs.optional(),
  project: globs.optional(),
  topology: globs.optional(),
  node: globs.optional(),
  model: globs.optional(),
  tool: globs.optional(),
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
  stage: z.enum(['run', 'call', 'output', 'tool']).default('call'),
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
 * data class, or by returning the new `text`); tool rules allow, deny or redact (by data class,
 * or by returning the new `args`).
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

/**
 * A tool-stage TypeScript rule's answer: allow, deny, redact by data class, or the arguments
 * rewritten (`{ action: 'redact', args }`, checked against the tool's input schema again).
 *
 * @example
 * ```ts
 * const o: ToolOutcome = { action: 'redact', args: { query: 'anonymised' } };
 * ```
 */
export type ToolOutcome = Extract<PolicyOutcome, { action: 'allow' | 'deny' | 'redact' }> | { readonly action: 'redact'; readonly args: unknown };

type Maybe<T> = T | undefined | Promise<T | undefined>;
interface CustomBase {
  readonly name: string;
  readonly match?: PolicyMatch | undefined;
  readonly onError?: 'closed' | 'open' | undefined;
}

/**
 * A rule written in TypeScript, placed among document rules: `check` sees the run, the call,
 * the answer or the tool call (with earlier rules' changes applied) and answers a {@link PolicyOutcome} or `undefined`. Its
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
  })
  | (CustomBase & { readonly stage: 'tool'; check(subject: ToolCheck): Maybe<ToolOutcome> });

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
