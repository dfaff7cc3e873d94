/**
 * Run-stage evaluation, before a new run is admitted: the run rules in order, matching on
 * tenant, user, project and topology; a rule with `dataClass` matches when a string of the run's
 * input holds one of those kinds (the input is scanned once, only when a rule needs it). The
 * first matching `deny` refuses the run, the first matching `allow` admits it.
 *
 * @example
 * ```ts
 * const v = evaluateRun(host, set, check); // { action: 'deny', rule: 'no-cards-in', error } or { action: 'allow' }
 * ```
 * @module
 */
import type { RunCheck, RunVerdict } from '../../definition/guard.ts';
import type { RuleSet } from './compile.ts';
import { Evaluation } from './evaluation.ts';
import { stringsOf } from './findings.ts';
import type { PolicyHost } from './host.ts';

const ALLOW: RunVerdict = Object.freeze({ action: 'allow' });

/**
 * Evaluates the run-stage rules of `set` for `check`.
 *
 * @example
 * ```ts
 * const v = evaluateRun(host, set, { runId: 'r1', topology: 'rag', tenant: 'free', input: { q: 'hi' } });
 * ```
 */
export function evaluateRun(host: PolicyHost, set: RuleSet, check: RunCheck): RunVerdict | Promise<RunVerdict> {
  if (set.run.length === 0) return ALLOW;
  return new RunEvaluation(host, set, set.run, check).from(0);
}

/** Run rules admit or refuse: allow and deny are their only outcomes. */
class RunEvaluation extends Evaluation<RunVerdict, RunCheck> {
  protected readonly stage = 'run';
  protected scanned(): string[] {
    return stringsOf(this.check.input);
  }

  protected view(): RunCheck {
    return this.check;
  }

  protected denied(): string {
    return `a run of '${this.check.topology}' is not allowed`;
  }

  protected done(): RunVerdict {
    return this.decided === undefined ? ALLOW : { action: 'allow', rule: this.decided };
  }
}
