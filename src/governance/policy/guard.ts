/**
 * `createPolicyGuard`: policy rules as an engine guard (`createEngine({ guard })`), evaluated
 * before each new run is admitted, before each model call, on each call's answer and before
 * each tool call (on its arguments), with live
 * controls: `apply` swaps the whole rule set atomically (hot reload), `version` says which set is
 * in force, `stats()` counts checks, refusals and rule failures, `errors$` reports each rule
 * failure and `decisions$` each decision with the version that made it.
 *
 * Semantics, per stage, rules in document order (see `evaluateRun`, `evaluateCall`,
 * `evaluateOutput`, `evaluateTool`): the first matching `deny` or `approval` stops with that verdict, `allow`
 * stops with what earlier rules changed, `redact`, `cap` and `route` apply and evaluation goes
 * on; a rule a person approved is skipped on the call asked again. A rule that throws (a failing
 * TypeScript check, a failing custom detector) refuses with `POLICY_FAILED` (fail-closed) unless
 * the rule, or the document's `defaults`, says `onError: 'open'`: then it is skipped, counted
 * and reported on `errors$`.
 *
 * @example
 * ```ts
 * const policies = createPolicyGuard({ document: `
 * tenants: { acme: { weight: 3 } }
 * rules:
 *   - { name: free-no-opus, match: { tenant: free, model: '*opus*' }, action: deny, message: opus is not on the free tier }
 *   - { name: pii, action: redact, redact: { mode: placeholder, kinds: [email, phone] } }
 *   - { name: cap-free, match: { tenant: free }, action: cap, cap: { maxTokens: 512 } }
 *   - { name: crm-pii, stage: tool, match: { tool: 'crm.*' }, action: redact, redact: { mode: placeholder } }
 * ` });
 * const engine = createEngine({ guard: policies });
 * policies.apply(nextDocument); // hot reload
 * ```
 * @module
 */
import { Subject, type Observable } from 'rxjs';
import * as z from 'zod';
import { PolicyError, ValidationError, toIssues } from '../../errors.ts';
import type { CallCheck, CallVerdict, OutputVerdict, RunCheck, RunVerdict, ToolCheck, ToolVerdict } from '../../definition/guard.ts';
import type { PiiDetector } from '../pii/types.ts';
import { PII_TYPES } from '../pii/types.ts';
import { PiiVault } from '../pii/vault.ts';
import { compileRules, createReplacers, type CompiledRule, type Replacers, type RuleSet } from './compile.ts';
import { evaluateCall } from './evaluate-call.ts';
import { evaluateRun } from './evaluate-run.ts';
import { evaluateTool } from './evaluate-tool.ts';
import { isPromise, type PolicyHost } from './host.ts';
import { parsePolicyRules } from './parse.ts';
import type { PolicyDocumentInput } from './schema.ts';
import type { PolicyDecision, PolicyGuard, PolicyGuardOptions, PolicyRuleFailure, PolicyStats } from './guard-types.ts';

export type { PolicyDecision, PolicyGuard, PolicyGuardOptions, PolicyRuleFailure, PolicyStats } from './guard-types.ts';

const detectorSchema = z.custom<PiiDetector>(
  (d) => typeof d === 'object' && d !== null && typeof (d as PiiDetector).type === 'string' && /^[a-z][a-z0-9_]*$/.test((d as PiiDetector).type) && typeof (d as PiiDetector).detect === 'function',
  'a detector: { type: a lower-case name, detect(text) }',
);
const OptionsSchema = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  document: z.unknown().optional(),
  format: z.enum(['yaml', 'json']).optional(),
  version: z.number().int().nonnegative().optional(),
  detectors: z.array(detectorSchema).optional(),
  hashKey: z.union([z.string(), z.instanceof(Uint8Array)]).refine((k) => (typeof k === 'string' ? Buffer.byteLength(k) : k.byteLength) >= 16, 'at least 16 bytes').optional(),
});
const ApplyOptionsSchema = z.strictObject({ version: z.number().int().nonnegative().optional(), format: z.enum(['yaml', 'json']).optional() });

/**
 * Makes a policy guard. Throws a `ValidationError` naming the bad field: `OPTIONS_INVALID` for
 * the options, `POLICY_INVALID` for the document (`rules.2.match.model`).
 *
 * @example
 * ```ts
 * const policies = createPolicyGuard({
 *   document: { rules: [
 *     { name: 'approve-big', match: { model: 'openai:o3*' }, action: 'approval', approval: { name: 'approve-o3', timeoutMs: 3_600_000 } },
 *     { name: 'tiny-prompts', check: (c) => (c.estimate.inputTokens < 10 ? { action: 'cap', maxTokens: 64 } : undefined) },
 *   ] },
 * });
 * ```
 */
export function createPolicyGuard(options: PolicyGuardOptions = {}): PolicyGuard {
  const r = OptionsSchema.safeParse(options);
  if (!r.success) throw new ValidationError('OPTIONS_INVALID', 'policy guard options are invalid', toIssues(r.error.issues, ['options']));
  return new Policies(r.data as PolicyGuardOptions);
}

type Counters = { -readonly [K in keyof Omit<PolicyStats, 'version' | 'rules' | 'vaults' | 'checks'>]: number } & { checks: { run: number; call: number; output: number; tool: number } };

class Policies implements PolicyGuard, PolicyHost {
  readonly name: string;
  readonly replacers: Replacers;
  readonly #detectors: readonly PiiDetector[];
  readonly #dataClasses: readonly string[];
  readonly #errors = new Subject<PolicyRuleFailure>();
  readonly #decisions = new Subject<PolicyDecision>();
  /** Runs admitted while placeholder rules were in force: their vault, made on first use. */
  readonly #vaults = new Map<string, PiiVault | null>();
  readonly #n: Counters = { checks: { run: 0, call: 0, output: 0, tool: 0 }, denied: 0, approvals: 0, changed: 0, failedClosed: 0, failedOpen: 0, reloads: 0 };
  #set: RuleSet;
  readonly errors$: Observable<PolicyRuleFailure>;
  readonly decisions$: Observable<PolicyDecision>;

  constructor(o: PolicyGuardOptions) {
    this.name = o.name ?? 'policy';
    this.#detectors = o.detectors ?? [];
    this.#dataClasses = [...PII_TYPES, ...this.#detectors.map((d) => d.type)];
    this.replacers = createReplacers(o.hashKey);
    this.errors$ = this.#errors.asObservable();
    this.decisions$ = this.#decisions.asObservable();
    this.#set = this.#compile(o.document ?? { rules: [] }, o.version, o.format, 0);
  }

  get version(): number {
    return this.#set.version;
  }

  #compile(document: unknown, version: number | undefined, format: 'yaml' | 'json' | undefined, next: number): RuleSet {
    const doc = parsePolicyRules(document, { format, dataClasses: this.#dataClasses });
    return compileRules(doc, { version: version ?? doc.version ?? next, detectors: this.#detectors, replacers: this.replacers });
  }

  apply(document: PolicyDocumentInput | string, options: { readonly version?: number | undefined; readonly format?: 'yaml' | 'json' | undefined } = {}): number {
    const o = ApplyOptionsSchema.safeParse(options);
    if (!o.success) throw new ValidationError('OPTIONS_INVALID', 'policy apply options are invalid', toIssues(o.error.issues, ['options']));
    // everything is checked and compiled before the swap: one assignment, so no check sees half a document
    const set = this.#compile(document, o.data.version, o.data.format, this.#set.version + 1);
    this.#set = set;
    this.#n.reloads++;
    return set.version;
  }

  weight(tenant: string): number {
    return this.#set.weights.get(tenant) ?? 1;
  }

  run(check: RunCheck): RunVerdict | Promise<RunVerdict> {
    const set = this.#set;
    this.#n.checks.run++;
    const v = evaluateRun(this, set, check);
    return isPromise<RunVerdict>(v) ? v.then((x) => this.#ran(set, check, x)) : this.#ran(set, check, v);
  }

  #ran(set: RuleSet, check: RunCheck, v: RunVerdict): RunVerdict {
    if (v.action === 'deny') this.#n.denied++;
    if (this.#decisions.observed) this.#decisions.next({ stage: 'run', version: set.version, runId: check.runId, action: v.action, rule: v.rule });
    if (v.action === 'deny' || !set.placeholders) return v;
    // the run's placeholder vault lives until the run ends (parks included: a vault is never stored)
    const id = check.runId;
    this.#vaults.set(id, null);
    return {
      ...v,
      ended: () => {
        this.#vaults.get(id)?.clear();
        this.#vaults.delete(id);
      },
    };
  }

  call(check: CallCheck): CallVerdict | Promise<CallVerdict> {
    const set = this.#set;
    this.#n.checks.call++;
    const v = evaluateCall(this, set, check);
    return isPromise<CallVerdict>(v) ? v.then((x) => this.#called(set, check, x)) : this.#called(set, check, v);
  }

  #called(set: RuleSet, check: CallCheck, v: CallVerdict): CallVerdict {
    if (v.action === 'deny') this.#n.denied++;
    else if (v.action === 'approval') this.#n.approvals++;
    const changed = v.action === 'allow' && (v.request !== undefined || v.model !== undefined);
    if (changed) this.#n.changed++;
    if (this.#decisions.observed) this.#decisions.next({ stage: 'call', version: set.version, runId: check.runId, nodeId: check.nodeId, action: v.action, rule: v.rule, changed });
    return v;
  }

  answered(version: number, check: CallCheck, o: OutputVerdict): OutputVerdict {
    this.#n.checks.output++;
    if (o.action === 'deny') this.#n.denied++;
    else if (o.action === 'redact') this.#n.changed++;
    if (this.#decisions.observed) {
      this.#decisions.next({ stage: 'output', version, runId: check.runId, nodeId: check.nodeId, action: o.action, rule: o.action === 'allow' ? undefined : o.rule });
    }
    return o;
  }

  tool(check: ToolCheck): ToolVerdict | Promise<ToolVerdict> {
    const set = this.#set;
    this.#n.checks.tool++;
    const v = evaluateTool(this, set, check);
    return isPromise<ToolVerdict>(v) ? v.then((x) => this.#tooled(set, check, x)) : this.#tooled(set, check, v);
  }

  #tooled(set: RuleSet, check: ToolCheck, v: ToolVerdict): ToolVerdict {
    if (v.action === 'deny') this.#n.denied++;
    const changed = v.action === 'allow' && Object.hasOwn(v, 'args');
    if (changed) this.#n.changed++;
    if (this.#decisions.observed) this.#decisions.next({ stage: 'tool', version: set.version, runId: check.runId, nodeId: check.nodeId, tool: check.tool, action: v.action, rule: v.rule, changed });
    return v;
  }

  runVault(runId: string): PiiVault | undefined {
    const v = this.#vaults.get(runId);
    if (v !== null) return v;
    const made = new PiiVault();
    this.#vaults.set(runId, made);
    return made;
  }

  failed(rule: CompiledRule, version: number, runId: string, error: unknown): PolicyError | undefined {
    const open = rule.onError === 'open';
    if (open) this.#n.failedOpen++;
    else this.#n.failedClosed++;
    if (this.#errors.observed) this.#errors.next({ rule: rule.name, stage: rule.stage, version, runId, error, outcome: open ? 'skipped' : 'refused' });
    if (open) return undefined;
    const why = error instanceof Error ? error.message : String(error);
    return new PolicyError('POLICY_FAILED', `${this.name}: rule '${rule.name}' failed while checking (refused: fail-closed): ${why}`, { rule: rule.name, cause: error });
  }

  stats(): PolicyStats {
    const s = this.#set;
    const n = this.#n;
    return {
      version: s.version,
      rules: s.run.length + s.call.length + s.output.length + s.tool.length,
      checks: { ...n.checks },
      denied: n.denied,
      approvals: n.approvals,
      changed: n.changed,
      failedClosed: n.failedClosed,
      failedOpen: n.failedOpen,
      reloads: n.reloads,
      vaults: this.#vaults.size,
    };
  }
}

