/**
 * Output-stage evaluation: a call's answer, before its node completes. Placeholders the call's
 * prompt was redacted with are restored first (from the run's vault: reversible only inside the
 * run), then the output rules that matched the call are applied in order: a rule with
 * `dataClass` matches when the answer holds one of those kinds; `deny` refuses the answer,
 * `allow` stops, `redact` rewrites what it finds and evaluation goes on. The answer is scanned
 * once, and only when a rule needs it.
 *
 * @example
 * ```ts
 * const v = evaluateOutput(host, set, check, rules, 'Sent to [EMAIL_1].', vault, 'pii-in'); // { action: 'redact', text: 'Sent to ada@example.com.' }
 * ```
 * @module
 */
import type { CallCheck, OutputVerdict } from '../../definition/guard.ts';
import { PiiVault } from '../pii/vault.ts';
import type { CompiledRule, RuleSet } from './compile.ts';
import { Findings } from './findings.ts';
import { NEXT, denyError, invalidOutcome, isPromise, type PolicyHost } from './host.ts';
import type { OutputSubject, PolicyOutcome } from './schema.ts';

type Step = OutputVerdict | Promise<OutputVerdict> | typeof NEXT;
const ALLOW: OutputVerdict = Object.freeze({ action: 'allow' });
const NONE = Symbol('none');

/**
 * Evaluates `rules` (output rules of `set` that matched the call) on an answer.
 *
 * @example
 * ```ts
 * watch.output = (text) => evaluateOutput(host, set, check, rules, text, vault, vaultRule);
 * ```
 */
export function evaluateOutput(
  host: PolicyHost, set: RuleSet, check: CallCheck, rules: readonly CompiledRule[], text: string,
  vault: PiiVault | undefined, vaultRule: string | undefined,
): OutputVerdict | Promise<OutputVerdict> {
  return new OutputEvaluation(host, set, check, rules, text, vault, vaultRule).from(0);
}

class OutputEvaluation {
  text: string;
  decided: string | undefined;
  findings: Findings | undefined;
  scanError: unknown = NONE;

  constructor(
    readonly host: PolicyHost, readonly set: RuleSet, readonly check: CallCheck, readonly rules: readonly CompiledRule[],
    readonly original: string, vault: PiiVault | undefined, vaultRule: string | undefined,
  ) {
    this.text = vault === undefined ? original : vault.restore(original);
    if (this.text !== original) this.decided = vaultRule;
  }

  from(k: number): OutputVerdict | Promise<OutputVerdict> {
    for (; k < this.rules.length; k++) {
      const v = this.rule(k, this.rules[k]!);
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
      out = (r.check as (s: OutputSubject) => unknown)({ ...this.check, text: this.current() });
    } catch (e) {
      return this.fail(r, e);
    }
    if (isPromise(out)) return out.then((o) => this.act(k, r, o) ?? this.from(k + 1), (e: unknown) => this.fail(r, e) ?? this.from(k + 1));
    return this.act(k, r, out);
  }

  /** The answer with every change so far (a TypeScript rule sees it). */
  current(): string {
    return this.findings?.changed === true ? this.findings.texts()[0]! : this.text;
  }

  scan(k: number, r: CompiledRule, resume: () => Step): Step | undefined {
    if (this.findings !== undefined) return undefined;
    const scanner = this.set.scanner;
    if (scanner !== undefined && this.scanError === NONE) {
      const text = this.text;
      try {
        if (this.set.asyncScan) {
          return scanner.scan(text).then((ms) => {
            this.findings = new Findings([text], [ms]);
            return resume() ?? this.from(k + 1);
          }, (e: unknown) => {
            this.scanError = e;
            return this.fail(r, e) ?? this.from(k + 1);
          });
        }
        this.findings = new Findings([text], [scanner.scanSync(text)]);
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
    const o = out as PolicyOutcome | { readonly action: 'redact'; readonly text: string };
    switch (o?.action) {
      case 'allow':
        return this.done();
      case 'deny':
        return { action: 'deny', rule: r.name, error: denyError(r, o.message, `the answer of node '${this.check.nodeId}' from ${this.check.model} is not allowed`) };
      case 'redact': {
        if ('text' in o) {
          if (typeof o.text !== 'string') break;
          // a TypeScript rule rewrote the whole answer: later rules scan the new text
          if (o.text !== this.current()) {
            this.text = o.text;
            this.findings = undefined;
            this.decided ??= r.name;
          }
          return NEXT;
        }
        if (o.mode !== 'mask' && o.mode !== 'hash' && o.mode !== 'placeholder') break;
        if (o.mode === 'hash' && !this.host.replacers.hasHashKey) return this.fail(r, new Error("hash redaction needs the guard's hashKey option"));
        const s = this.scan(k, r, () => this.act(k, r, out));
        if (s !== undefined) return s;
        const kinds = r.check === undefined ? r.redactKinds : o.kinds === undefined ? undefined : new Set(o.kinds);
        // placeholders put in an answer are never restored (not even by a later call of the run): a vault kept by nobody
        const vault = o.mode === 'placeholder' ? new PiiVault() : undefined;
        const replacers = this.host.replacers;
        try {
          if (this.findings!.replace(kinds, (m) => replacers.replace(o.mode, m, vault))) this.decided ??= r.name;
        } catch (e) {
          return this.fail(r, e);
        }
        return NEXT;
      }
      default:
    }
    return this.fail(r, invalidOutcome(out));
  }

  done(): OutputVerdict {
    const text = this.current();
    if (text === this.original) return ALLOW;
    return { action: 'redact', rule: this.decided ?? 'policy', text };
  }
}
