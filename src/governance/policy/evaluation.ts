/**
 * The one mechanism of every stage's evaluation (run, call, output, tool): the rules in order,
 * synchronous until a rule or a scan answers with a promise, then going on from the next rule
 * once it settles. The texts a stage checks are scanned once, and only when a rule needs it (a
 * data class, or a redaction); a scan that failed fails every later rule that needs it. A rule
 * that throws, rejects or answers nonsense goes to the guard (`host.failed`): refused with its
 * error, or skipped when it fails open. `allow` stops with what earlier rules changed, `deny`
 * refuses with the rule's message (else the stage's), and a redaction by data class replaces
 * the findings (mask, hash or placeholders). Each stage says what differs: which rules match,
 * which texts are scanned, what a TypeScript rule sees, the other outcomes it applies and its
 * verdict.
 *
 * @example
 * ```ts
 * class RunEvaluation extends Evaluation<RunVerdict, RunCheck> {
 *   protected scanned() { return stringsOf(this.check.input); }
 *   protected view() { return this.check; }
 *   protected denied() { return `a run of '${this.check.topology}' is not allowed`; }
 *   protected done() { return this.decided === undefined ? ALLOW : { action: 'allow', rule: this.decided }; }
 * }
 * const v = new RunEvaluation(host, set, set.run, check).from(0);
 * ```
 * @module
 */
import { PiiVault } from '../pii/vault.ts';
import type { CompiledRule, RuleSet } from './compile.ts';
import { Findings } from './findings.ts';
import { NEXT, denyError, invalidOutcome, isPromise, type PolicyHost } from './host.ts';
import type { MatchSubject } from './match.ts';
import type { PolicyStage } from './schema.ts';

/**
 * One rule's result: a verdict (or a promise of the evaluation's verdict), or {@link NEXT}.
 *
 * @example
 * ```ts
 * const s: Step<RunVerdict> = NEXT;
 * ```
 */
export type Step<V> = V | Promise<V> | typeof NEXT;

/** What a failed scan left: nothing yet. */
const NONE = Symbol('none');

/**
 * The evaluation of one check against the rules of one stage; a stage extends it.
 *
 * @example
 * ```ts
 * const v = new ToolEvaluation(host, set, set.tool, check).from(0); // a ToolVerdict, or a promise of one
 * ```
 */
export abstract class Evaluation<V extends { readonly action: string }, C extends MatchSubject & { readonly runId: string }> {
  /** The first rule that decided or changed something. */
  decided: string | undefined;
  /** The scan of the stage's texts, once a rule needed it. */
  findings: Findings | undefined;
  /** Why the scan failed (a rule needing it then fails too). */
  private scanError: unknown = NONE;

  constructor(readonly host: PolicyHost, readonly set: RuleSet, readonly rules: readonly CompiledRule[], readonly check: C) {}

  /** The stage evaluated (its scanner looks only for the kinds its rules use). */
  protected abstract readonly stage: PolicyStage;

  /** Evaluates the rules from the `k`-th on. */
  from(k: number): V | Promise<V> {
    const rules = this.rules;
    for (; k < rules.length; k++) {
      const r = rules[k]!;
      if (!this.matches(r)) continue;
      const v = this.rule(k, r);
      if (v !== NEXT) return v;
    }
    return this.done();
  }

  /** Whether rule `r` applies to the check (its data class aside). */
  protected matches(r: CompiledRule): boolean {
    return r.subject === undefined || r.subject(this.check);
  }

  /** The strings a data class or a redaction is checked on, in the order findings keep them. */
  protected abstract scanned(): readonly string[];

  /** The check as a TypeScript rule sees it: with earlier rules' changes. */
  protected abstract view(): unknown;

  /** The message of a `deny` that names none (the rule's own message comes first). */
  protected abstract denied(): string;

  /** The verdict once no rule stopped the evaluation. */
  protected abstract done(): V;

  /**
   * The outcomes beyond allow, deny and the data-class redaction: a verdict or NEXT, or undefined
   * when the stage cannot apply it (the rule then fails). The default applies none.
   */
  protected apply(_k: number, _r: CompiledRule, _o: { readonly action?: unknown }, _out: unknown): Step<V> | undefined {
    return undefined;
  }

  /** `allow`: stops with what earlier rules changed, naming this rule when none did. */
  protected allowed(r: CompiledRule): V {
    this.decided ??= r.name;
    return this.done();
  }

  /** A redaction replaced something with `vault` (placeholders) or without (mask, hash). */
  protected redacted(r: CompiledRule, _vault: PiiVault | undefined): void {
    this.decided ??= r.name;
  }

  /** The vault of placeholder redaction; by default one kept by nobody (its placeholders are never restored). */
  protected placeholderVault(): PiiVault {
    return new PiiVault();
  }

  /** Rule `r` on the check: its data class (scanning first if needed), then its outcome. */
  rule(k: number, r: CompiledRule): Step<V> {
    if (r.dataClass !== undefined) {
      const s = this.scan(k, r, () => this.rule(k, r));
      if (s !== undefined) return s;
      if (!this.findings!.has(r.dataClass)) return NEXT;
    }
    if (r.check === undefined) return this.act(k, r, r.outcome);
    let out: unknown;
    try {
      out = (r.check as (s: unknown) => unknown)(this.view());
    } catch (e) {
      return this.fail(r, e);
    }
    if (isPromise(out)) return out.then((o) => this.act(k, r, o) ?? this.from(k + 1), (e: unknown) => this.fail(r, e) ?? this.from(k + 1));
    return this.act(k, r, out);
  }

  /** Findings ready: undefined. Otherwise the failure's step, or a promise of the rest once an asynchronous scan answers. */
  scan(k: number, r: CompiledRule, resume: () => Step<V>): Step<V> | undefined {
    if (this.findings !== undefined) return undefined;
    const scanner = this.set.scanners[this.stage];
    if (scanner !== undefined && this.scanError === NONE) {
      const texts = this.scanned();
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

  /** Rule `r` failed with `e`: refused, or NEXT when it fails open. */
  fail(r: CompiledRule, e: unknown): Step<V> {
    const error = this.host.failed(r, this.set.version, this.check.runId, e);
    return error === undefined ? NEXT : ({ action: 'deny', rule: r.name, error } as unknown as V);
  }

  /** Applies what rule `r` answered (`undefined` from a TypeScript rule: it does not apply). */
  act(k: number, r: CompiledRule, out: unknown): Step<V> {
    if (out === undefined && r.check !== undefined) return NEXT;
    const o = out as { readonly action?: unknown; readonly message?: string | undefined } | null;
    if (o?.action === 'allow') return this.allowed(r);
    if (o?.action === 'deny') return { action: 'deny', rule: r.name, error: denyError(r, o.message, this.denied()) } as unknown as V;
    const s = o === null || o === undefined ? undefined : this.apply(k, r, o, out);
    return s === undefined ? this.fail(r, invalidOutcome(out)) : s;
  }

  /**
   * A redaction by data class on the scanned texts (`mode` mask, hash or placeholder; a TypeScript
   * rule may name `kinds`): NEXT, a failure, or undefined for a mode it does not know.
   */
  protected redact(k: number, r: CompiledRule, o: { readonly mode?: unknown; readonly kinds?: readonly string[] | undefined }, out: unknown): Step<V> | undefined {
    const mode = o.mode;
    if (mode !== 'mask' && mode !== 'hash' && mode !== 'placeholder') return undefined;
    if (mode === 'hash' && !this.host.replacers.hasHashKey) return this.fail(r, new Error("hash redaction needs the guard's hashKey option"));
    const s = this.scan(k, r, () => this.act(k, r, out));
    if (s !== undefined) return s;
    const kinds = r.check === undefined ? r.redactKinds : o.kinds === undefined ? undefined : new Set(o.kinds);
    const vault = mode === 'placeholder' ? this.placeholderVault() : undefined;
    const replacers = this.host.replacers;
    try {
      if (this.findings!.replace(kinds, (m) => replacers.replace(mode, m, vault))) this.redacted(r, vault);
    } catch (e) {
      return this.fail(r, e);
    }
    return NEXT;
  }
}
