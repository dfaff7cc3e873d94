/**
 * Call-stage evaluation: the rules of one rule set, in order, against one model call.
 *
 * - A rule a person approved (`check.approved[rule]`) is skipped; so is one whose match fails.
 *   Later rules see the model as routed by earlier ones.
 * - A rule with `dataClass` matches only when the prompt (every message's content) holds a
 *   finding of one of those kinds not already redacted. The prompt is scanned once per call, and
 *   only when a rule needs it (a data class, or a redaction).
 * - `deny` and `approval` stop with that verdict (earlier changes are dropped: the call is not
 *   made). `allow` stops with what earlier rules changed (an exception placed before broader rules).
 * - `redact`, `cap` (the smaller maxTokens wins) and `route` apply and evaluation goes on.
 * - The verdict names the first rule that decided or changed something; it carries a watch when
 *   output rules match the call or placeholders must be restored in the answer.
 *
 * @example
 * ```ts
 * const v = evaluateCall(host, set, check); // a CallVerdict, or a promise of one when a rule or detector awaits
 * ```
 * @module
 */
import type { CallCheck, CallVerdict, CallWatch } from '../../definition/guard.ts';
import type { ChatMessage, CompletionRequest } from '../../providers/types.ts';
import { PiiVault } from '../pii/vault.ts';
import type { CompiledRule, RuleSet } from './compile.ts';
import { evaluateOutput } from './evaluate-output.ts';
import { Evaluation, type Step } from './evaluation.ts';
import type { Findings } from './findings.ts';
import { NEXT, isPromise, type PolicyHost } from './host.ts';
import type { MatchSubject } from './match.ts';
import type { PolicyOutcome } from './schema.ts';

const ALLOW: CallVerdict = Object.freeze({ action: 'allow' });

/**
 * Evaluates the call-stage rules of `set` for `check`.
 *
 * @example
 * ```ts
 * const v = evaluateCall(host, set, check);
 * ```
 */
export function evaluateCall(host: PolicyHost, set: RuleSet, check: CallCheck): CallVerdict | Promise<CallVerdict> {
  if (set.call.length === 0 && set.output.length === 0) return ALLOW;
  return new CallEvaluation(host, set, set.call, check).from(0);
}

/** Call rules also ask for approval, cap maxTokens and route the model; the verdict may watch the answer. */
class CallEvaluation extends Evaluation<CallVerdict, CallCheck> {
  protected readonly stage = 'call';
  request: CompletionRequest;
  model: string;
  /** What rules match on: the check with the model as routed so far. */
  subject: MatchSubject;
  vault: PiiVault | undefined;
  ownVault = false;
  /** The first rule that put placeholders in the prompt (names the restoring of the answer). */
  vaultRule: string | undefined;

  constructor(host: PolicyHost, set: RuleSet, rules: readonly CompiledRule[], check: CallCheck) {
    super(host, set, rules, check);
    this.request = check.request;
    this.model = check.model;
    this.subject = check;
  }

  /** Rules a person approved are skipped; later rules see the model as routed by earlier ones. */
  protected override matches(r: CompiledRule): boolean {
    const approved = this.check.approved;
    if (approved !== undefined && Object.hasOwn(approved, r.name)) return false;
    return r.subject === undefined || r.subject(this.subject);
  }

  /** The check as a TypeScript rule sees it: with earlier rules' changes. */
  protected view(): CallCheck {
    if (this.request === this.check.request && this.model === this.check.model && this.findings?.changed !== true) return this.check;
    return { ...this.check, model: this.model, request: this.current() };
  }

  protected scanned(): string[] {
    return this.request.messages.map((m) => m.content);
  }

  protected denied(): string {
    return `the call of node '${this.check.nodeId}' to ${this.model} is not allowed`;
  }

  protected override apply(k: number, r: CompiledRule, outcome: { readonly action?: unknown }, out: unknown): Step<CallVerdict> | undefined {
    const o = outcome as PolicyOutcome;
    switch (o.action) {
      case 'approval':
        if (typeof o.name !== 'string' || o.name === '') return undefined;
        return { action: 'approval', rule: r.name, wait: o.timeoutMs === undefined ? { name: o.name } : { name: o.name, timeoutMs: o.timeoutMs } };
      case 'cap': {
        if (!Number.isInteger(o.maxTokens) || o.maxTokens <= 0) return undefined;
        const max = this.request.maxTokens;
        if (max === undefined || max > o.maxTokens) {
          this.request = { ...this.request, maxTokens: o.maxTokens };
          this.decided ??= r.name;
        }
        return NEXT;
      }
      case 'route':
        if (typeof o.model !== 'string' || !o.model.includes(':')) return undefined;
        if (o.model !== this.model) {
          this.model = o.model;
          this.subject = { ...this.check, model: o.model };
          this.decided ??= r.name;
        }
        return NEXT;
      case 'redact':
        return this.redact(k, r, o, out);
      default:
        return undefined;
    }
  }

  protected override redacted(r: CompiledRule, vault: PiiVault | undefined): void {
    this.decided ??= r.name;
    if (vault !== undefined) this.vaultRule ??= r.name;
  }

  /** The run's vault (dropped when the run ends), or one of this call's own for a run the guard did not admit (recovered runs). */
  protected override placeholderVault(): PiiVault {
    if (this.vault === undefined) {
      this.vault = this.host.runVault(this.check.runId);
      if (this.vault === undefined) {
        this.vault = new PiiVault();
        this.ownVault = true;
      }
    }
    return this.vault;
  }

  /** The request with every change made so far (built once per change: redacted texts are not joined again). */
  current(): CompletionRequest {
    const f = this.findings;
    if (f === undefined || !f.changed) return this.request;
    const built = this.#built;
    if (built !== undefined && built.findings === f && built.request === this.request && built.version === f.version) return built.current;
    const texts = f.texts();
    const messages: ChatMessage[] = this.request.messages.map((m, i) => (texts[i] === m.content ? m : { ...m, content: texts[i]! }));
    const current = { ...this.request, messages };
    this.#built = { findings: f, request: this.request, version: f.version, current };
    return current;
  }

  /** The last request {@link current} built, and what it was built from. */
  #built: { readonly findings: Findings; readonly request: CompletionRequest; readonly version: number; readonly current: CompletionRequest } | undefined;

  protected done(): CallVerdict {
    const request = this.current();
    const routed = this.model !== this.check.model;
    const watch = this.watch();
    if (request === this.check.request && !routed && watch === undefined) return this.decided === undefined ? ALLOW : { action: 'allow', rule: this.decided };
    const v: { -readonly [K in keyof Extract<CallVerdict, { action: 'allow' }>]: Extract<CallVerdict, { action: 'allow' }>[K] } = { action: 'allow' };
    if (this.decided !== undefined) v.rule = this.decided;
    if (request !== this.check.request) v.request = request;
    if (routed) v.model = this.model;
    if (watch !== undefined) v.watch = watch;
    return v;
  }

  /** Output rules that match this call (their data classes are checked on the answer), and the placeholders to restore. */
  watch(): CallWatch | undefined {
    // the usual case (output rules matching every call) reuses the set's own list
    const rules = this.set.outputForAll ? this.set.output : this.set.output.filter((r) => r.subject === undefined || r.subject(this.subject));
    const vault = this.vault !== undefined && this.vault.size > 0 ? this.vault : undefined;
    if (rules.length === 0 && vault === undefined) return undefined;
    const { host, set, ownVault, vaultRule } = this;
    // a TypeScript output rule sees the call as made (redacted, routed); document rules need only its names
    const check = this.model !== this.check.model || rules.some((r) => r.check !== undefined) ? this.view() : this.check;
    return {
      output: (text) => {
        const v = evaluateOutput(host, set, check, rules, text, vault, vaultRule);
        if (!isPromise(v)) {
          if (ownVault) vault?.clear();
          return host.answered(set.version, check, v);
        }
        return v.then((o) => host.answered(set.version, check, o)).finally(() => {
          if (ownVault) vault?.clear();
        });
      },
    };
  }
}
