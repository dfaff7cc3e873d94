/**
 * The public shapes of a policy guard: its options, its live controls, and what it reports
 * (rule failures, decisions with their rule-set version, counters).
 *
 * @example
 * ```ts
 * const g: PolicyGuard = createPolicyGuard({ document: rulesYaml });
 * g.errors$.subscribe((f: PolicyRuleFailure) => alert(f.rule));
 * ```
 * @module
 */
import type { Observable } from 'rxjs';
import type { CallCheck, CallVerdict, Guard, RunCheck, RunVerdict, ToolCheck, ToolVerdict } from '../../definition/guard.ts';
import type { PiiDetector } from '../pii/types.ts';
import type { PolicyDocumentInput, PolicyStage } from './schema.ts';

/**
 * Options of {@link createPolicyGuard}.
 *
 * @example
 * ```ts
 * const o: PolicyGuardOptions = { document: { rules: [{ name: 'deny-all', action: 'deny' }] }, hashKey: secret };
 * ```
 */
export interface PolicyGuardOptions {
  /** Name in `POLICY_FAILED` errors and events (default `policy`). */
  readonly name?: string | undefined;
  /** The first rules: a document (YAML or JSON text, or a value that may hold TypeScript rules). Default: no rules. */
  readonly document?: PolicyDocumentInput | string | undefined;
  /** How a text document is read (default `yaml`, which reads JSON too). */
  readonly format?: 'yaml' | 'json' | undefined;
  /** The first version (default: the document's `version`, else 0). */
  readonly version?: number | undefined;
  /** Detectors beyond the built-in ones (an NER service, ids of your own): their types become data classes rules may name. Scans then await. */
  readonly detectors?: readonly PiiDetector[] | undefined;
  /** HMAC key of `hash` redaction (at least 16 bytes); a document with a hash rule is refused without one. */
  readonly hashKey?: string | Uint8Array | undefined;
}

/**
 * A rule that failed while checking.
 *
 * @example
 * ```ts
 * policies.errors$.subscribe((f) => alert(`${f.rule} ${f.outcome}: ${String(f.error)}`));
 * ```
 */
export interface PolicyRuleFailure {
  readonly rule: string;
  readonly stage: PolicyStage;
  readonly version: number;
  readonly runId: string;
  readonly error: unknown;
  /** `refused`: the check was refused with POLICY_FAILED; `skipped`: the rule fails open. */
  readonly outcome: 'refused' | 'skipped';
}

/**
 * One decision of the guard and the rule-set version that made it.
 *
 * @example
 * ```ts
 * policies.decisions$.subscribe((d) => console.log(d.runId, d.stage, d.action, d.rule, `v${d.version}`));
 * ```
 */
export interface PolicyDecision {
  readonly stage: PolicyStage;
  readonly version: number;
  readonly runId: string;
  readonly nodeId?: string | undefined;
  /** A tool-stage decision: the tool's name. */
  readonly tool?: string | undefined;
  readonly action: 'allow' | 'deny' | 'approval' | 'redact';
  readonly rule?: string | undefined;
  /** A call allowed with a changed request or model, a tool call with changed arguments. */
  readonly changed?: boolean | undefined;
}

/**
 * Counters of a policy guard since it was made.
 *
 * @example
 * ```ts
 * const s = policies.stats(); // { version: 4, rules: 7, checks: { run: 10, call: 31, output: 30, tool: 4 }, denied: 2, ... }
 * ```
 */
export interface PolicyStats {
  readonly version: number;
  readonly rules: number;
  readonly checks: { readonly run: number; readonly call: number; readonly output: number; readonly tool: number };
  readonly denied: number;
  readonly approvals: number;
  /** Calls whose request or model the rules changed, answers and tool arguments they rewrote. */
  readonly changed: number;
  /** Rule failures that refused (fail-closed) and that were skipped (fail-open). */
  readonly failedClosed: number;
  readonly failedOpen: number;
  /** Documents applied after the first. */
  readonly reloads: number;
  /** Runs holding a placeholder vault now. */
  readonly vaults: number;
}

/**
 * A policy guard: a {@link Guard} with live controls.
 *
 * @example
 * ```ts
 * const g: PolicyGuard = createPolicyGuard();
 * g.apply({ rules: [{ name: 'deny-all', action: 'deny' }] });
 * g.version; // 1
 * ```
 */
export interface PolicyGuard extends Guard {
  readonly name: string;
  /** The version of the rule set in force. */
  readonly version: number;
  run(check: RunCheck): RunVerdict | Promise<RunVerdict>;
  call(check: CallCheck): CallVerdict | Promise<CallVerdict>;
  /** Tool-stage rules on a tool call's arguments (allow with no tool rules). */
  tool(check: ToolCheck): ToolVerdict | Promise<ToolVerdict>;
  /** The tenant's weight from the document (`tenants.<t>.weight`), 1 when it sets none. */
  weight(tenant: string): number;
  /**
   * Validates `document` and swaps the whole rule set at once; checks in flight finish on the set
   * they started with. An invalid document throws a `ValidationError` and the rules in force stay.
   * Returns the version applied: `options.version`, else the document's, else the current + 1.
   */
  apply(document: PolicyDocumentInput | string, options?: { readonly version?: number | undefined; readonly format?: 'yaml' | 'json' | undefined }): number;
  stats(): PolicyStats;
  readonly errors$: Observable<PolicyRuleFailure>;
  readonly decisions$: Observable<PolicyDecision>;
}
