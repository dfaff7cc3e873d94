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
import { Findings } from './findings.ts';
import { NEXT, denyError, invalidOutcome, isPromise, type PolicyHost } from './host.ts';
import type { MatchSubject } from './match.ts';
import type { PolicyOutcome } from './schema.ts';

type Step = CallVerdict | Promise<CallVerdict> | typeof NEXT;
const ALLOW: CallVerdict = Object.freeze({ action: 'allow' });
const NONE = Symbol('none');

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
  return new CallEvaluation(host, set, check).from(0);
}

class CallEvaluation {
  request: CompletionRequest;
  model: string;
  subject: MatchSubject;
  decided: string | undefined;
  findings: Findings | undefined;
  scanError: unknown = NONE;
  vault: PiiVault | undefined;
  ownVault = false;
  vaultRule: string | undefined;

  constructor(readonly host: PolicyHost, readonly set: RuleSet, readonly check: CallCheck) {
    this.request = check.request;
    this.model = check.model;
    this.subject = check;
  }

  from(k: number): CallVerdict | Promise<CallVerdict> {
    const rules = this.set.call;
    const approved = this.check.approved;
    for (; k < rules.length; k++) {
      const r = rules[k]!;
      if (approved !== undefined && Object.hasOwn(approved, r.name)) continue;
      if (r.subject !== undefined && !r.subject(this.subject)) continue;
      const v = this.rule(k, r);
      if (v !== NEXT) return v;
    }
    return this.done();
  }

  rule(k: number, r: CompiledRule): Step {
    if (r.dataClass !== undefined) {
      const s = this.scan(k, r, () => this.rule(k, r));
      if (s !== undefined) return s;
      if (!this.findings!.has(r.dataClass)) return NEXT;
    }
    if (r.check === undefined) return this.act(k, r, r.outcome);
    let out: unknown;
    try {
      out = (r.check as (s: CallCheck) => unknown)(this.view());
    } catch (e) {
      return this.fail(r, e);
    }
    if (isPromise(out)) return out.then((o) => this.act(k, r, o) ?? this.from(k + 1), (e: unknown) => this.fail(r, e) ?? this.from(k + 1));
    return this.act(k, r, out);
  }

  /** The check as a TypeScript rule sees it: with earlier rules' changes. */
  view(): CallCheck {
    if (this.request === this.check.request && this.model === this.check.model && this.findings?.changed !== true) return this.check;
    return { ...this.check, model: this.model, request: this.current() };
  }

  /** Findings ready: undefined. Otherwise the failure's step, or a promise of the rest once an asynchronous scan answers. */
  scan(k: number, r: CompiledRule, resume: () => Step): Step | undefined {
    if (this.findings !== undefined) return undefined;
    const scanner = this.set.scanner;
    if (scanner !== undefined && this.scanError === NONE) {
      const texts = this.request.messages.map((m) => m.content);
      try {
        if (this.set.asyncScan) {
          return Promise.all(texts.map((t) => scanner.scan(t))).then((ms) => {
            this.findings = new Findings(texts, ms);
            return resume() ?? this.from(k + 1);
          }, (e: unknown) => {
            this.scanError = e;
            return this.fail(r, e) ?? this.from(k + 1);
          });
        }
        this.findings = new Findings(texts, texts.map((t) => scanner.scanSync(t)));
        return undefined;
      } catch (e) {
        this.scanError = e;
      }
    }
    return this.fail(r, this.scanError === NONE ? new Error('no scanner') : this.scanError);
  }

  fail(r: CompiledRule, e: unknown): Step {
    const error = this.host.failed(r, this.set.version, this.check.runId, e);
    return error === undefined ? NEXT : { action: 'deny', rule: r.name, error };
  }

  act(k: number, r: CompiledRule, out: unknown): Step {
    if (out === undefined && r.check !== undefined) return NEXT;
    const o = out as PolicyOutcome;
    switch (o?.action) {
      case 'allow':
        this.decided ??= r.name;
        return this.done();
      case 'deny':
        return { action: 'deny', rule: r.name, error: denyError(r, o.message, `the call of node '${this.check.nodeId}' to ${this.model} is not allowed`) };
      case 'approval':
        if (typeof o.name !== 'string' || o.name === '') break;
        return { action: 'approval', rule: r.name, wait: o.timeoutMs === undefined ? { name: o.name } : { name: o.name, timeoutMs: o.timeoutMs } };
      case 'cap': {
        if (!Number.isInteger(o.maxTokens) || o.maxTokens <= 0) break;
        const max = this.request.maxTokens;
        if (max === undefined || max > o.maxTokens) {
          this.request = { ...this.request, maxTokens: o.maxTokens };
          this.decided ??= r.name;
        }
        return NEXT;
      }
      case 'route':
        if (typeof o.model !== 'string' || !o.model.includes(':')) break;
        if (o.model !== this.model) {
          this.model = o.model;
          this.subject = { ...this.check, model: o.model };
          this.decided ??= r.name;
        }
        return NEXT;
      case 'redact': {
        if (o.mode !== 'mask' && o.mode !== 'hash' && o.mode !== 'placeholder') break;
        if (o.mode === 'hash' && !this.host.replacers.hasHashKey) return this.fail(r, new Error("hash redaction needs the guard's hashKey option"));
        const s = this.scan(k, r, () => this.act(k, r, out));
        if (s !== undefined) return s;
        const kinds = r.check === undefined ? r.redactKinds : o.kinds === undefined ? undefined : new Set(o.kinds);
        const vault = o.mode === 'placeholder' ? this.placeholderVault() : undefined;
        const replacers = this.host.replacers;
        try {
          if (this.findings!.replace(kinds, (m) => replacers.replace(o.mode, m, vault))) {
            this.decided ??= r.name;
            if (vault !== undefined) this.vaultRule ??= r.name;
          }
        } catch (e) {
          return this.fail(r, e);
        }
        return NEXT;
      }
      default:
    }
    return this.fail(r, invalidOutcome(out));
  }

  /** The run's vault (dropped when the run ends), or one of this call's own for a run the guard did not admit (recovered runs). */
  placeholderVault(): PiiVault {
    if (this.vault === undefined) {
      this.vault = this.host.runVault(this.check.runId);
      if (this.vault === undefined) {
        this.vault = new PiiVault();
        this.ownVault = true;
      }
    }
    return this.vault;
  }

  /** The request with every change made so far. */
  current(): CompletionRequest {
    const f = this.findings;
    if (f === undefined || !f.changed) return this.request;
    const texts = f.texts();
    const messages: ChatMessage[] = this.request.messages.map((m, i) => (texts[i] === m.content ? m : { ...m, content: texts[i]! }));
    return { ...this.request, messages };
  }

  done(): CallVerdict {
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
    const rules = this.set.output.filter((r) => r.subject === undefined || r.subject(this.subject));
    const vault = this.vault !== undefined && this.vault.size > 0 ? this.vault : undefined;
    if (rules.length === 0 && vault === undefined) return undefined;
    const { host, set, ownVault, vaultRule } = this;
    const check = this.view();
    return {
      output: (text) => {
        const v = evaluateOutput(host, set, check, rules, text, vault, vaultRule);
        if (ownVault) {
          if (isPromise(v)) void v.finally(() => vault?.clear()).catch(() => undefined);
          else vault?.clear();
        }
        return v;
      },
    };
  }
}
