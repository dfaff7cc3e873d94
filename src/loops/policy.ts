/**
 * Policy documents: their zod schemas (regression rules use `RegressionRuleSchema` of regression.ts), their form on the policies topic (one JSON text per
 * document field in `params`), and the checks only the target topology can answer (do the
 * nodes exist, are they llm nodes, are the variants the experiment's).
 * @module
 */
import * as z from 'zod';
import { toIssues, type Issue } from '../errors.ts';
import { NodeOverrideSchema } from '../compiler/validate.ts';
import type { AnyTopology, NodeOverride, Topology } from '../definition/types.ts';
import type { PolicyUpdateMessage } from '../transports/messages.ts';
import { RegressionRuleSchema } from './regression.ts';
import type { BanditPolicy, CanarySpec, PolicyDocument, PolicyVersion, RegressionRule } from './types.ts';

const name = z.string().min(1);
const nonEmpty = (o: object): boolean => Object.keys(o).length > 0;

/**
 * Schema of a {@link CanarySpec}: start share 0..100, step in (0, 100], steps every
 * `everyRuns` (a positive integer) evaluated canary runs.
 *
 * @example
 * ```ts
 * CanarySpecSchema.parse({ percent: 5, step: 20, everyRuns: 100, metric: 'correct', test: { minSamples: 50 } });
 * ```
 */
export const CanarySpecSchema = z.strictObject({
  percent: z.number().min(0).max(100),
  step: z.number().gt(0).max(100),
  everyRuns: z.number().int().positive(),
  metric: name,
  test: RegressionRuleSchema.omit({ metric: true, action: true }).optional(),
});

/**
 * Schema of a {@link BanditPolicy}. An arm may be written as a model name; it reads as `{ model }`.
 *
 * @example
 * ```ts
 * BanditPolicySchema.parse({ arms: { cheap: 'sim:small', best: { model: 'sim:large', maxTokens: 200 } }, metric: 'correct' });
 * // arms.cheap is { model: 'sim:small' }
 * ```
 */
export const BanditPolicySchema = z.strictObject({
  arms: z.record(name, z.union([name.transform((model): NodeOverride => ({ model })), NodeOverrideSchema]))
    .refine(nonEmpty, 'a bandit needs at least one arm'),
  metric: name,
  costWeight: z.number().nonnegative().optional(),
  strategy: z.enum(['epsilon-greedy', 'thompson']).optional(),
  rewards: z.enum(['binary', 'gaussian']).optional(),
  epsilon: z.number().min(0).max(1).optional(),
});

/**
 * Schema of a policy's `evaluation`: the share of runs sent for evaluation (0..1) and nodes evaluated on their own.
 *
 * @example
 * ```ts
 * EvaluationPolicySchema.parse({ sampleRate: 0.1, nodes: ['answer'] });
 * ```
 */
export const EvaluationPolicySchema = z.strictObject({
  sampleRate: z.number().min(0).max(1),
  nodes: z.array(name).readonly().optional(),
});

/**
 * Schema of a {@link PolicyDocument} (its output type is exactly `PolicyDocument`).
 *
 * @example
 * ```ts
 * const doc = PolicyDocumentSchema.parse({ nodes: { answer: { model: 'sim:large', temperature: 0.2 } }, variants: { control: 80, b: 20 } });
 * ```
 */
export const PolicyDocumentSchema = z.strictObject({
  nodes: z.record(name, NodeOverrideSchema).optional(),
  variants: z.record(name, z.number().nonnegative()).optional(),
  bandits: z.record(name, BanditPolicySchema).optional(),
  canary: CanarySpecSchema.optional(),
  regression: z.array(RegressionRuleSchema).readonly().optional(),
  evaluation: EvaluationPolicySchema.optional(),
  promptVersion: name.optional(),
});

/** `true` when A and B have the same keys and each accepts the other. */
type Same<A, B> = [A] extends [B] ? [B] extends [A] ? [keyof A] extends [keyof B] ? [keyof B] extends [keyof A] ? true : false : false : false : false;
type Assert<T extends true> = T;

/**
 * The fields of a policy document, in the order `policyToMessage` writes them.
 *
 * @example
 * ```ts
 * for (const f of POLICY_FIELDS) if (doc[f] !== undefined) console.log(f);
 * ```
 */
export const POLICY_FIELDS = ['nodes', 'variants', 'bandits', 'canary', 'regression', 'evaluation', 'promptVersion'] as const;

/**
 * Compiles only while the schemas give exactly the interfaces of `types.ts`, and
 * {@link POLICY_FIELDS} lists every field of a document.
 *
 * @example
 * ```ts
 * // adding a field to PolicyDocument but not to PolicyDocumentSchema breaks the build here
 * ```
 */
export type PolicySchemasMatch = [
  Assert<Same<PolicyDocument, z.output<typeof PolicyDocumentSchema>>>,
  Assert<Same<BanditPolicy, z.output<typeof BanditPolicySchema>>>,
  Assert<Same<CanarySpec, z.output<typeof CanarySpecSchema>>>,
  Assert<Same<RegressionRule, z.output<typeof RegressionRuleSchema>>>,
  Assert<Same<keyof PolicyDocument, (typeof POLICY_FIELDS)[number]>>,
];

/**
 * A parse's outcome: the value, or every issue with the path of the bad field.
 *
 * @example
 * ```ts
 * const r: Parsed<PolicyDocument> = parsePolicyDocument(JSON.parse(text));
 * ```
 */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: Issue[] };

/**
 * Validates a policy document (from a file, `llmo policy apply`, or code).
 *
 * @example
 * ```ts
 * const r = parsePolicyDocument({ nodes: { answer: { temperature: 5 } } });
 * if (!r.ok) r.issues[0].path; // ['nodes', 'answer', 'temperature']
 * ```
 */
export function parsePolicyDocument(value: unknown): Parsed<PolicyDocument> {
  const r = PolicyDocumentSchema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, issues: toIssues(r.error.issues) };
}

const EnvelopeSchema = z.object({
  policyId: name,
  version: z.number().int().positive(),
  target: name,
  params: z.record(z.string(), z.string()),
  reason: z.string().nullable(),
  ts: z.number(),
});

const FIELDS: ReadonlySet<string> = new Set(POLICY_FIELDS);

/**
 * Reads a policy update from the policies topic: each key of `params` is one document field
 * (`nodes`, `variants`, `bandits`, `canary`, `regression`, `evaluation`, `promptVersion`)
 * holding its value as JSON text (`promptVersion` too: `"\"v3\""`). Unknown keys
 * (`unknown_param`), text that is not JSON (`invalid_json`) and bad values are issues with
 * paths under `params`, e.g. `['params', 'nodes', 'answer', 'temperature']`. The version
 * must be a positive integer. Never throws.
 *
 * @example
 * ```ts
 * const r = policyFromMessage({ policyId: 'opt-1', version: 4, target: 'qa', reason: 'cheaper', ts: Date.now(),
 *   params: { nodes: '{"answer":{"model":"sim:small"}}', evaluation: '{"sampleRate":0.2}' } });
 * if (r.ok) registry.apply(r.policy);
 * ```
 */
export function policyFromMessage(msg: PolicyUpdateMessage): { ok: true; policy: PolicyVersion } | { ok: false; issues: Issue[] } {
  const envelope = EnvelopeSchema.safeParse(msg);
  if (!envelope.success) return { ok: false, issues: toIssues(envelope.error.issues) };
  const m = envelope.data;
  const issues: Issue[] = [];
  const raw: Record<string, unknown> = {};
  for (const [key, text] of Object.entries(m.params)) {
    if (!FIELDS.has(key)) {
      issues.push({ code: 'unknown_param', path: ['params', key], message: `'${key}' is no policy field (fields: ${POLICY_FIELDS.join(', ')})` });
      continue;
    }
    try {
      raw[key] = JSON.parse(text);
    } catch (e) {
      issues.push({ code: 'invalid_json', path: ['params', key], message: `not valid JSON: ${(e as Error).message}` });
    }
  }
  const doc = PolicyDocumentSchema.safeParse(raw);
  if (!doc.success) for (const issue of toIssues(doc.error.issues, ['params'])) issues.push(issue);
  if (issues.length > 0 || !doc.success) return { ok: false, issues };
  return { ok: true, policy: { target: m.target, version: m.version, policyId: m.policyId, document: doc.data, reason: m.reason, ts: m.ts } };
}

/**
 * A policy version as a policies-topic message (the inverse of {@link policyFromMessage}):
 * each field the document sets, as JSON text.
 *
 * @example
 * ```ts
 * await transport.send('policy', [{ key: p.target, value: policyToMessage(p) }]);
 * ```
 */
export function policyToMessage(p: PolicyVersion): PolicyUpdateMessage {
  const params: Record<string, string> = {};
  for (const field of POLICY_FIELDS) {
    const value = p.document[field];
    if (value !== undefined) params[field] = JSON.stringify(value);
  }
  return { policyId: p.policyId, version: p.version, target: p.target, params, reason: p.reason, ts: p.ts };
}

/**
 * What a (schema-valid) document gets wrong about its topology: overridden and bandit nodes
 * must be llm nodes of the topology (`unknown_node`, `not_llm_node`), variant weights need an
 * experiment (`no_experiment`) that has those variants (`unknown_variant`), and evaluated nodes
 * must exist (`unknown_node`). Paths are the document's, e.g. `['nodes', 'answer']`.
 *
 * @example
 * ```ts
 * const issues = checkPolicyAgainst(qa, { nodes: { nope: { model: 'sim:x' } } });
 * // [{ code: 'unknown_node', path: ['nodes', 'nope'], message: "..." }]
 * ```
 */
export function checkPolicyAgainst(topology: AnyTopology, doc: PolicyDocument): Issue[] {
  const t = topology as Topology;
  const issues: Issue[] = [];
  const kinds = new Map(t.nodes.map((n) => [n.id, n.kind] as const));
  const llm = (field: 'nodes' | 'bandits', what: string): void => {
    for (const id of Object.keys(doc[field] ?? {})) {
      const kind = kinds.get(id);
      if (kind === undefined) issues.push({ code: 'unknown_node', path: [field, id], message: `${what} missing node '${id}' of topology '${t.name}'` });
      else if (kind !== 'llm') issues.push({ code: 'not_llm_node', path: [field, id], message: `${what} '${id}', a ${kind} node; only llm nodes can be` });
    }
  };
  llm('nodes', 'overrides');
  llm('bandits', 'routes');
  if (doc.variants !== undefined) {
    const variants = t.experiment === undefined ? undefined : Object.keys(t.experiment.variants);
    if (variants === undefined) issues.push({ code: 'no_experiment', path: ['variants'], message: `topology '${t.name}' declares no experiment to weigh` });
    else {
      for (const v of Object.keys(doc.variants)) {
        if (!variants.includes(v)) issues.push({ code: 'unknown_variant', path: ['variants', v], message: `'${v}' is no variant of '${t.name}' (variants: ${variants.join(', ')})` });
      }
    }
  }
  doc.evaluation?.nodes?.forEach((id, i) => {
    if (!kinds.has(id)) issues.push({ code: 'unknown_node', path: ['evaluation', 'nodes', i], message: `evaluates missing node '${id}' of topology '${t.name}'` });
  });
  return issues;
}
