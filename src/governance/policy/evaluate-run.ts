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
import type { CompiledRule, RuleSet } from './compile.ts';
import { Findings, stringsOf } from './findings.ts';
import { NEXT, denyError, invalidOutcome, isPromise, type PolicyHost } from './host.ts';
import type { PolicyOutcome } from './schema.ts';

type Step = RunVerdict | Promise<RunVerdict> | typeof NEXT;
const ALLOW: RunVerdict = Object.freeze({ action: 'allow' });
const NONE = Symbol('none');

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
  return new RunEvaluation(host, set, check).from(0);
}

class RunEvaluation {
  findings: Findings | undefined;
  scanError: unknown = NONE;

  constructor(readonly host: PolicyHost, readonly set: RuleSet, readonly check: RunCheck) {}

  from(k: number): RunVerdict | Promise<RunVerdict> {
    const rules = this.set.run;
    for (; k < rules.length; k++) {
      const r = rules[k]!;
      if (r.subject !== undefined && !r.subject(this.check)) continue;
      const v = this.rule(k, r);
      if (v !== NEXT) return v;
    }
    return ALLOW;
  }

  rule(k: number, r: CompiledRule): Step {
    if (r.dataClass !== undefined) {
      const s = this.scan(k, r);
      if (s !== undefined) return s;
      if (!this.findings!.has(r.dataClass)) return NEXT;
    }
    if (r.check === undefined) return this.act(r, r.outcome);
    let out: unknown;
    try {
      out = (r.check as (s: RunCheck) => unknown)(this.check);
    } catch (e) {
      return this.fail(r, e);
    }
    if (isPromise(out)) return out.then((o) => this.act(r, o) ?? this.from(k + 1), (e: unknown) => this.fail(r, e) ?? this.from(k + 1));
    return this.act(r, out);
  }

  scan(k: number, r: CompiledRule): Step | undefined {
    if (this.findings !== undefined) return undefined;
    const scanner = this.set.scanner;
    if (scanner !== undefined && this.scanError === NONE) {
      const texts = stringsOf(this.check.input);
      try {
        if (this.set.asyncScan) {
          return Promise.all(texts.map((t) => scanner.scan(t))).then((ms) => {
            this.findings = new Findings(texts, ms);
            return this.rule(k, r) ?? this.from(k + 1);
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

  act(r: CompiledRule, out: unknown): Step {
    if (out === undefined && r.check !== undefined) return NEXT;
    const o = out as PolicyOutcome;
    if (o?.action === 'allow') return { action: 'allow', rule: r.name };
    if (o?.action === 'deny') return { action: 'deny', rule: r.name, error: denyError(r, o.message, `a run of '${this.check.topology}' is not allowed`) };
    return this.fail(r, invalidOutcome(out));
  }
}
