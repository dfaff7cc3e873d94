/**
 * What the stage evaluators share: the guard they report to (redaction, run vaults, rule
 * failures), the deny error every refusal carries, and the helpers of evaluation that stays
 * synchronous until a rule or a scan answers with a promise.
 *
 * @example
 * ```ts
 * const error = denyError(rule, undefined, "the call of node 'answer' to openai:gpt-4o is not allowed");
 * ```
 * @module
 */
import { PolicyError } from '../../errors.ts';
import type { CallCheck, OutputVerdict } from '../../definition/guard.ts';
import type { PiiVault } from '../pii/vault.ts';
import type { CompiledRule, Replacers } from './compile.ts';

/**
 * The guard, as its evaluators see it.
 *
 * @example
 * ```ts
 * const host: PolicyHost = { replacers, runVault: () => undefined, failed: (r, v, run, e) => new PolicyError('POLICY_FAILED', String(e), { rule: r.name }), answered: (version, check, v) => v };
 * ```
 */
export interface PolicyHost {
  readonly replacers: Replacers;
  /** The run's vault, when the run was admitted through this guard while placeholder rules were in force. */
  runVault(runId: string): PiiVault | undefined;
  /** A rule failed: reported and counted; the error to refuse with, or undefined when the rule fails open (skipped). */
  failed(rule: CompiledRule, version: number, runId: string, error: unknown): PolicyError | undefined;
  /** An answer was checked against the output rules of rule set `version`: counted and reported; returns `v`. */
  answered(version: number, check: CallCheck, v: OutputVerdict): OutputVerdict;
}

/**
 * Evaluation goes on with the next rule.
 *
 * @example
 * ```ts
 * if (!matched) return NEXT;
 * ```
 */
export const NEXT = null;

/**
 * True for a thenable.
 *
 * @example
 * ```ts
 * if (isPromise(out)) return out.then(next);
 * ```
 */
export const isPromise = <T>(v: unknown): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';

/**
 * The error of a refusal: `POLICY_DENIED`, naming the rule.
 *
 * @example
 * ```ts
 * denyError(rule, 'opus is not on the free tier', 'the call is not allowed').message; // "opus is not on the free tier (rule 'free-models')"
 * ```
 */
export function denyError(rule: CompiledRule, message: string | undefined, fallback: string): PolicyError {
  return new PolicyError('POLICY_DENIED', `${message ?? rule.message ?? fallback} (rule '${rule.name}')`, { rule: rule.name });
}

/**
 * The error of a TypeScript rule's answer the stage cannot use.
 *
 * @example
 * ```ts
 * throw invalidOutcome({ action: 'sing' });
 * ```
 */
export function invalidOutcome(out: unknown): Error {
  let shown: string;
  try {
    shown = JSON.stringify(out) ?? String(out);
  } catch {
    shown = String(out);
  }
  return new Error(`answered an outcome this stage cannot apply: ${shown.slice(0, 200)}`);
}
