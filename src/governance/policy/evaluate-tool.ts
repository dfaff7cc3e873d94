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
import { Evaluation, type Step } from './evaluation.ts';
import { stringsOf, withStrings } from './findings.ts';
import { NEXT, type PolicyHost } from './host.ts';
import type { ToolOutcome } from './schema.ts';

const ALLOW: ToolVerdict = Object.freeze({ action: 'allow' });

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
  return new ToolEvaluation(host, set, set.tool, check).from(0);
}

/** Tool rules redact the arguments, or a TypeScript rule rewrites them wholesale. */
class ToolEvaluation extends Evaluation<ToolVerdict, ToolCheck> {
  protected readonly stage = 'tool';
  /** The arguments as the last wholesale rewrite (a TypeScript rule's `args`) left them. */
  args: unknown;
  vault: PiiVault | undefined;

  constructor(host: PolicyHost, set: RuleSet, rules: readonly CompiledRule[], check: ToolCheck) {
    super(host, set, rules, check);
    this.args = check.args;
  }

  /** The check as a TypeScript rule sees it: with earlier rules' changes. */
  protected view(): ToolCheck {
    const args = this.current();
    return args === this.check.args ? this.check : { ...this.check, args };
  }

  /** The arguments with every change so far. */
  current(): unknown {
    const f = this.findings;
    return f === undefined || !f.changed ? this.args : withStrings(this.args, f.texts());
  }

  protected scanned(): string[] {
    return stringsOf(this.args);
  }

  protected denied(): string {
    return `the call of tool '${this.check.tool}' by node '${this.check.nodeId}' is not allowed`;
  }

  protected override apply(k: number, r: CompiledRule, outcome: { readonly action?: unknown }, out: unknown): Step<ToolVerdict> | undefined {
    const o = outcome as ToolOutcome;
    if (o.action !== 'redact') return undefined;
    if ('args' in o) {
      // a TypeScript rule rewrote the arguments: later rules scan the new ones
      if (o.args !== this.current()) {
        this.args = o.args;
        this.findings = undefined;
        this.decided ??= r.name;
      }
      return NEXT;
    }
    return this.redact(k, r, o, out);
  }

  /**
   * The run's vault (so a value has the same placeholder in tool arguments and prompts, and model
   * answers get it back), or one of this call's own for a run the guard did not admit (recovered
   * runs): its placeholders are then never restored.
   */
  protected override placeholderVault(): PiiVault {
    this.vault ??= this.host.runVault(this.check.runId) ?? new PiiVault();
    return this.vault;
  }

  protected done(): ToolVerdict {
    const args = this.current();
    if (args === this.check.args) return this.decided === undefined ? ALLOW : { action: 'allow', rule: this.decided };
    return { action: 'allow', rule: this.decided ?? 'policy', args };
  }
}
