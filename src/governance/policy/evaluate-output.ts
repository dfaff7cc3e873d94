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
import type { PiiVault } from '../pii/vault.ts';
import type { CompiledRule, RuleSet } from './compile.ts';
import { Evaluation, type Step } from './evaluation.ts';
import { NEXT, type PolicyHost } from './host.ts';
import type { OutputSubject, PolicyOutcome } from './schema.ts';

const ALLOW: OutputVerdict = Object.freeze({ action: 'allow' });

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

/**
 * Output rules redact the answer, or a TypeScript rule rewrites it wholesale; placeholders they
 * put in are never restored (not even by a later call of the run): the default vault, kept by nobody.
 */
class OutputEvaluation extends Evaluation<OutputVerdict, CallCheck> {
  protected readonly stage = 'output';
  text: string;

  constructor(
    host: PolicyHost, set: RuleSet, check: CallCheck, rules: readonly CompiledRule[],
    readonly original: string, vault: PiiVault | undefined, vaultRule: string | undefined,
  ) {
    super(host, set, rules, check);
    this.text = vault === undefined ? original : vault.restore(original);
    if (this.text !== original) this.decided = vaultRule;
  }

  /** The rules matched the call already. */
  protected override matches(): boolean {
    return true;
  }

  /** The answer with every change so far (a TypeScript rule sees it). */
  current(): string {
    return this.findings?.changed === true ? this.findings.texts()[0]! : this.text;
  }

  protected view(): OutputSubject {
    return { ...this.check, text: this.current() };
  }

  protected scanned(): string[] {
    return [this.text];
  }

  protected denied(): string {
    return `the answer of node '${this.check.nodeId}' from ${this.check.model} is not allowed`;
  }

  /** `allow` stops with what earlier rules changed; it changes nothing itself, so it names no rule. */
  protected override allowed(): OutputVerdict {
    return this.done();
  }

  protected override apply(k: number, r: CompiledRule, outcome: { readonly action?: unknown }, out: unknown): Step<OutputVerdict> | undefined {
    const o = outcome as PolicyOutcome | { readonly action: 'redact'; readonly text: string };
    if (o.action !== 'redact') return undefined;
    if ('text' in o) {
      if (typeof o.text !== 'string') return undefined;
      // a TypeScript rule rewrote the whole answer: later rules scan the new text
      if (o.text !== this.current()) {
        this.text = o.text;
        this.findings = undefined;
        this.decided ??= r.name;
      }
      return NEXT;
    }
    return this.redact(k, r, o, out);
  }

  protected done(): OutputVerdict {
    const text = this.current();
    if (text === this.original) return ALLOW;
    return { action: 'redact', rule: this.decided ?? 'policy', text };
  }
}
