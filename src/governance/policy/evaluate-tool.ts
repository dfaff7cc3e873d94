/**
 * Tool-stage evaluation, before a tool node calls its tool: the tool rules of one rule set, in
 * order, against the arguments the tool's input schema returned.
 *
 * - A rule matches on tenant, user, project, topology, node and `tool` (the tool's name, globs).
 * - A rule with `dataClass` matches only when a string of the arguments (at any depth) holds a
 *   finding of one of those kinds not already redacted. The arguments are scanned once per tool
 *   call, and only when a rule needs it (a data class, or a redaction).
 * - `deny` stops with that verdict; `allow` stops with what earlier rules changed.
 * - `redact` replaces what it finds in every string of the arguments (mask, hash, or the run's
 *   placeholders, the same vault call redaction uses), keeping their shape, and evaluation goes
 *   on; a TypeScript rule may instead answer the rewritten `args`.
 * - The verdict names the first rule that decided or changed something and carries the changed
 *   arguments (the engine checks them against the tool's input schema again).
 *
 * @example
 * ```ts
 * const v = evaluateTool(host, set, { runId: 'r1', topology: 'support', nodeId: 'lookup', tool: 'crm.search', args: { email: 'ana@example.com' } });
 * // { action: 'allow', rule: 'pii-tools', args: { email: '[EMAIL_1]' } }
 * ```
 * @module
 */
import type { ToolCheck, ToolVerdict } from '../../definition/guard.ts';
import { PiiVault } from '../pii/vault.ts';
import type { CompiledRule, RuleSet } from './compile.ts';
import { Findings, stringsOf, withStrings } from './findings.ts';
import { NEXT, denyError, invalidOutcome, isPromise, type PolicyHost } from './host.ts';
import type { ToolOutcome } from './schema.ts';

type Step = ToolVerdict | Promise<ToolVerdict> | typeof NEXT;
const ALLOW: ToolVerdict = Object.freeze({ action: 'allow' });
const NONE = Symbol('none');

/**
 * Evaluates the tool-stage rules of `set` for `check`.
 *
 * @example
 * ```ts
 * const v = evaluateTool(host, set, check); // a ToolVerdict, or a promise of one when a rule or detector awaits
 * ```
 */
export function evaluateTool(host: PolicyHost, set: RuleSet, check: ToolCheck): ToolVerdict | Promise<ToolVerdict> {
  if (set.tool.length === 0) return ALLOW;
  return new ToolEvaluation(host, set, check).from(0);
}

class ToolEvaluation {
  /** The arguments as the last wholesale rewrite (a TypeScript rule's `args`) left them. */
  args: unknown;
  decided: string | undefined;
  findings: Findings | undefined;
  scanError: unknown = NONE;
  vault: PiiVault | undefined;

  constructor(readonly host: PolicyHost, readonly set: RuleSet, readonly check: ToolCheck) {
    this.args = check.args;
  }

  from(k: number): ToolVerdict | Promise<ToolVerdict> {
    const rules = this.set.tool;
    for (; k < rules.length; k++) {
      const r = rules[k]!;
      if (r.subject !== undefined && !r.subject(this.check)) continue;
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
      out = (r.check as (s: ToolCheck) => unknown)(this.view());
    } catch (e) {
      return this.fail(r, e);
    }
    if (isPromise(out)) return out.then((o) => this.act(k, r, o) ?? this.from(k + 1), (e: unknown) => this.fail(r, e) ?? this.from(k + 1));
    return this.act(k, r, out);
  }

  /** The check as a TypeScript rule sees it: with earlier rules' changes. */
  view(): ToolCheck {
    const args = this.current();
    return args === this.check.args ? this.check : { ...this.check, args };
  }

  /** The arguments with every change so far. */
  current(): unknown {
    const f = this.findings;
    return f === undefined || !f.changed ? this.args : withStrings(this.args, f.texts());
  }

  /** Findings ready: undefined. Otherwise the failure's step, or a promise of the rest once an asynchronous scan answers. */
  scan(k: number, r: CompiledRule, resume: () => Step): Step | undefined {
    if (this.findings !== undefined) return undefined;
    const scanner = this.set.scanner;
    if (scanner !== undefined && this.scanError === NONE) {
      const texts = stringsOf(this.args);
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
    const o = out as ToolOutcome;
    switch (o?.action) {
      case 'allow':
        this.decided ??= r.name;
        return this.done();
      case 'deny':
        return { action: 'deny', rule: r.name, error: denyError(r, o.message, `the call of tool '${this.check.tool}' by node '${this.check.nodeId}' is not allowed`) };
      case 'redact': {
        if ('args' in o) {
          // a TypeScript rule rewrote the arguments: later rules scan the new ones
          if (o.args !== this.current()) {
            this.args = o.args;
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
        const vault = o.mode === 'placeholder' ? this.placeholderVault() : undefined;
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

  /**
   * The run's vault (so a value has the same placeholder in tool arguments and prompts, and model
   * answers get it back), or one of this call's own for a run the guard did not admit (recovered
   * runs): its placeholders are then never restored.
   */
  placeholderVault(): PiiVault {
    this.vault ??= this.host.runVault(this.check.runId) ?? new PiiVault();
    return this.vault;
  }

  done(): ToolVerdict {
    const args = this.current();
    if (args === this.check.args) return this.decided === undefined ? ALLOW : { action: 'allow', rule: this.decided };
    return { action: 'allow', rule: this.decided ?? 'policy', args };
  }
}
