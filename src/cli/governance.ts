/**
 * `--governance <file>`: the guards a command's engine asks before runs, model calls and tool calls,
 * from one YAML or JSON file:
 *
 * ```yaml
 * policies:            # policy rules (see createPolicyGuard): deny, redact, route, cap, approval
 *   rules: [...]
 * budgets:             # budgets, quotas and concurrency limits (see createBudgetGuard)
 *   budgets: [...]
 * ledger: sqlite:.llmo/budgets.db   # where budgets are counted; default: the --store database, else memory
 * ```
 *
 * Policies are asked first (a route or a cap changes what the budget reserves). A file that cannot be
 * read, or a bad rule, is an issue naming the field (`policies.rules.2.match.model`).
 * @module
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import type { Guard } from '../definition/guard.ts';
import { isValidationError, toIssues, type Issue } from '../errors.ts';
import type { BudgetEvent } from '../governance/budget/types.ts';
import { createBudgetGuard } from '../governance/budget/guard.ts';
import { openLedger } from '../governance/budget/open.ts';
import type { BudgetLedger } from '../governance/budget/ledger.ts';
import { createPolicyGuard } from '../governance/policy/guard.ts';
import type { PolicyGuard } from '../governance/policy/guard-types.ts';
import type { PolicyDocumentInput } from '../governance/policy/schema.ts';
import { redactUrl } from '../stores/url.ts';

/**
 * Schema of a `--governance` file (its two documents are checked by their own schemas).
 *
 * @example
 * ```ts
 * GovernanceFileSchema.parse({ policies: { rules: [] }, ledger: 'memory:' });
 * ```
 */
export const GovernanceFileSchema = z.strictObject({
  policies: z.unknown().optional(),
  budgets: z.unknown().optional(),
  ledger: z.string().min(1).optional(),
});

/**
 * The guards of a `--governance` file, opened.
 *
 * @example
 * ```ts
 * const gov = await loadGovernance('governance.yaml', { storeUrl, onProblem: (m) => io.err.write(`${m}\n`) });
 * if (gov.ok) createEngine({ guard: gov.guards });
 * ```
 */
export interface CliGovernance {
  readonly ok: true;
  /** Policies first, then budgets; empty when the file has neither. */
  readonly guards: readonly Guard[];
  /** The policy guard (hot reload: `apply`, `applyGovernanceUpdate`). */
  readonly policy: PolicyGuard | undefined;
  /** Where budgets are counted, for messages (a URL's password hidden). */
  readonly ledger: string | undefined;
  /** Closes the budget ledger. */
  close(): Promise<void>;
}

/**
 * Reads and opens `--governance <file>` (nothing without a file). `storeUrl` (the command's `--store`)
 * is where budgets are counted when the file names no `ledger`; `onProblem` hears each rule that failed
 * and each ledger failure as one line (they refuse the run or call too: fail-closed).
 *
 * @example
 * ```ts
 * const gov = await loadGovernance(opts.governance, { storeUrl: url, onProblem });
 * if (!gov.ok) return reportIssues(io, `--governance ${opts.governance}`, gov.issues);
 * ```
 */
export async function loadGovernance(
  file: string | undefined,
  deps: { readonly storeUrl?: string | undefined; readonly onProblem: (message: string) => void },
): Promise<CliGovernance | { readonly ok: false; readonly issues: readonly Issue[] }> {
  if (file === undefined) return { ok: true, guards: [], policy: undefined, ledger: undefined, close: () => Promise.resolve() };
  let value: unknown;
  try {
    value = parseYaml(await readFile(file, 'utf8'));
  } catch (e) {
    return { ok: false, issues: [{ code: 'unreadable', path: [], message: (e as Error).message }] };
  }
  const parsed = GovernanceFileSchema.safeParse(value);
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error.issues) };
  const doc = parsed.data;
  const guards: Guard[] = [];
  let policy: PolicyGuard | undefined;
  if (doc.policies !== undefined) {
    try {
      policy = createPolicyGuard({ name: 'policies', document: doc.policies as PolicyDocumentInput });
    } catch (e) {
      if (isValidationError(e)) return { ok: false, issues: under('policies', e.issues) };
      throw e;
    }
    policy.errors$.subscribe((f) => deps.onProblem(`governance: rule '${f.rule}' failed on run ${f.runId} (${f.outcome === 'skipped' ? 'skipped: fail-open' : 'refused: fail-closed'}): ${f.error instanceof Error ? f.error.message : String(f.error)}`));
    guards.push(policy);
  }
  let ledger: BudgetLedger | undefined;
  let where: string | undefined;
  if (doc.budgets !== undefined) {
    const url = doc.ledger ?? deps.storeUrl ?? 'memory:';
    try {
      ledger = await openLedger(url);
    } catch (e) {
      return { ok: false, issues: [{ code: 'ledger_unavailable', path: ['ledger'], message: `cannot open the budget ledger ${redactUrl(url)}: ${(e as Error).message}` }] };
    }
    where = redactUrl(url);
    const onEvent = (ev: BudgetEvent): void => {
      if (ev.type === 'ledger-failed') deps.onProblem(`governance: the budget ledger (${where}) failed on ${ev.op}: ${ev.error instanceof Error ? ev.error.message : String(ev.error)}`);
    };
    try {
      const rules = typeof doc.budgets === 'object' && doc.budgets !== null ? doc.budgets : {};
      guards.push(createBudgetGuard({ ...(rules as object), ledger, onEvent }));
    } catch (e) {
      await ledger.close?.();
      if (isValidationError(e)) return { ok: false, issues: under('budgets', e.issues) };
      throw e;
    }
  }
  const open = ledger;
  return { ok: true, guards, policy, ledger: where, close: async () => { await open?.close?.(); } };
}

/** Issues of a part of the file, under that part's key. */
function under(key: string, issues: readonly Issue[]): Issue[] {
  return issues.map((i) => ({ ...i, path: [key, ...stripOptions(i.path)] }));
}

/** A guard's option errors start at its `options`/`document`; the file's paths start at the part. */
function stripOptions(path: readonly (string | number)[]): (string | number)[] {
  return path[0] === 'options' || path[0] === 'document' ? path.slice(1) : [...path];
}
