/**
 * `createBudgetGuard`: budgets, quotas and concurrent-run limits as a guard. A call's pre-flight
 * estimate is reserved on every matching line in one atomic ledger operation (or routed to a
 * cheaper model, or refused), settled with what the call billed, and extended ahead of need
 * while it streams; a run holds its quota and concurrency lines until it ends.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { CallCheck, CallVerdict, RunCheck, RunVerdict } from '../../definition/guard.ts';
import { PolicyError } from '../../errors.ts';
import { parseOptions } from '../../runtime/options.ts';
import type { BudgetSubject } from './keys.ts';
import { createRuleLines, type BudgetLine } from './lines.ts';
import { refusalOf, type Refused, type RefusalStage } from './refusal.ts';
import { BudgetGuardOptionsSchema, type BudgetGuard, type BudgetGuardOptions, type BudgetUsage } from './types.ts';
import { createLedgerUpkeep } from './upkeep.ts';
import { watchCall } from './watch.ts';

const DEFAULT_TTL_MS = 10 * 60_000;

/**
 * A guard enforcing budgets (USD), quotas (runs, calls, tokens) and concurrent-run limits
 * through a {@link BudgetLedger}, so they hold across concurrent calls and across workers
 * sharing the ledger. Refusals are PolicyErrors (`BUDGET_EXCEEDED`, `QUOTA_EXCEEDED`,
 * `CONCURRENCY_LIMIT`) naming the rule; a failing ledger refuses (`POLICY_FAILED`, fail-closed).
 *
 * A streaming call holds its estimate; once it has used `extendAt` of it, half the estimate more is
 * asked for in the background. While that answer is pending the call may stream into the amount
 * asked for, no further; once it is refused the call is cut at what it holds (`BUDGET_EXCEEDED`).
 * Settles, releases and refreshes run in the background: `flush()` awaits them, and each failure
 * is reported (`onEvent`, `failures`). Holds of live runs and calls are refreshed every third of
 * `reservationTtlMs`; a crashed worker's holds expire after it.
 *
 * @example
 * ```ts
 * const budget = createBudgetGuard({
 *   ledger: await openLedger('sqlite:budget.db'),
 *   budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: 50, onExceeded: { route: 'openai:gpt-4o-mini' } }],
 *   quotas: [{ name: 'runs', per: 'tenant', period: 'day', runs: 1000 }],
 *   concurrency: [{ name: 'parallel', per: 'tenant', max: 20 }],
 * });
 * const engine = createEngine({ models, guard: budget });
 * ```
 */
export function createBudgetGuard(options: BudgetGuardOptions): BudgetGuard {
  const o = parseOptions(BudgetGuardOptionsSchema, options, 'budget guard options') as BudgetGuardOptions;
  const { ledger } = o;
  const name = o.name ?? 'budget';
  const clock = o.clock ?? Date.now;
  const ttl = o.reservationTtlMs ?? DEFAULT_TTL_MS;
  const extendAt = o.extendAt ?? 0.8;
  const budgets = o.budgets ?? [];
  const rules = createRuleLines({ budgets, quotas: o.quotas ?? [], concurrency: o.concurrency ?? [] });
  const upkeep = createLedgerUpkeep({ ledger, clock, ttl, onEvent: o.onEvent });
  const { must, track, hold, unhold } = upkeep;

  const refusal = (stage: RefusalStage, r: Refused, lines: readonly BudgetLine[], runId: string, need?: number): PolicyError => {
    const { error, event } = refusalOf(name, stage, r, lines, runId, need);
    upkeep.emit(event);
    return error;
  };

  const run = async (c: RunCheck): Promise<RunVerdict> => {
    const now = clock();
    const lines = rules.runLines(c, now);
    const id = `run|${c.runId}|${randomUUID()}`;
    const r = await must('reserve', c.runId, () => ledger.reserve({ id, lines, expiresAt: now + ttl, now }));
    if (!r.ok) {
      const error = refusal('run', r, lines, c.runId);
      return { action: 'deny', rule: error.rule!, error };
    }
    hold(id);
    let ended = false;
    return {
      action: 'allow',
      ended: (status) => {
        if (ended) return;
        ended = true;
        unhold(id);
        // a later guard refused it: it never ran, so it counts against no quota
        if (status === 'refused') {
          track('release', c.runId, () => ledger.release(id));
          return;
        }
        // the run counts once it ran (also when it parks); its concurrency slots are free again
        const actual: Record<string, number> = {};
        for (const l of lines) if (l.kind === 'runs') actual[l.key] = 1;
        track('settle', c.runId, () => ledger.settle(id, actual));
      },
    };
  };

  const call = async (c: CallCheck): Promise<CallVerdict> => {
    const now = clock();
    const matching = rules.budgetsFor(c);
    let est = c.estimate;
    let lines = rules.callLines(c, est, now, matching);
    const id = `call|${c.runId}|${c.nodeId}|${randomUUID()}`;
    let r = await must('reserve', c.runId, () => ledger.reserve({ id, lines, expiresAt: now + ttl, now }));
    let model: string | undefined;
    let routedBy: string | undefined;
    if (!r.ok) {
      const refused = r;
      const rule = budgets.find((b) => lines.some((l) => l.kind === 'cost' && l.key === refused.key && l.rule === b.name));
      const route = rule !== undefined && typeof rule.onExceeded === 'object' ? rule.onExceeded.route : undefined;
      const routed = route !== undefined && route !== c.model ? c.estimateOn?.(route, c.request) : undefined;
      if (routed !== undefined && rule !== undefined) {
        const there = rules.callLines({ ...c, model: route! }, routed, now, matching);
        const r2 = await must('reserve', c.runId, () => ledger.reserve({ id, lines: there, expiresAt: now + ttl, now }));
        if (r2.ok) {
          [r, lines, est, model, routedBy] = [r2, there, routed, route, rule.name];
        } else {
          [r, lines] = [r2, there];
        }
      }
      if (!r.ok) {
        const error = refusal('call', r, lines, c.runId, lines.find((l) => l.key === (r as { key: string }).key)?.amount);
        return { action: 'deny', rule: error.rule!, error };
      }
    }
    hold(id);
    const watch = watchCall({ name, ledger, clock, ttl, extendAt, upkeep, refuse: refusal }, c, id, lines, est);
    return { action: 'allow', rule: routedBy, ...(model === undefined ? {} : { model }), watch };
  };

  const usage = async (rule: string, s: BudgetSubject = {}): Promise<BudgetUsage> => {
    const now = clock();
    const line = rules.ruleLine(rule, s, now);
    if (line === undefined) throw new PolicyError('POLICY_FAILED', `${name}: no budget, quota or concurrency rule is named ${JSON.stringify(rule)}`, { rule });
    const { key, limit } = line;
    const u = await ledger.usage(key, now);
    return { rule, key, spent: u.spent, reserved: u.reserved, limit, remaining: Math.max(0, limit - u.spent - u.reserved) };
  };

  return {
    name,
    ...(rules.anyRun ? { run: (c: RunCheck) => (rules.runLines(c, clock()).length === 0 ? { action: 'allow' } as const : run(c)) } : {}),
    ...(rules.anyCall ? { call: (c: CallCheck) => (rules.callLines(c, c.estimate, clock(), rules.budgetsFor(c)).length === 0 ? { action: 'allow' } as const : call(c)) } : {}),
    usage,
    remaining: async (rule, s) => (await usage(rule, s)).remaining,
    flush: () => upkeep.flush(),
    get failures() {
      return upkeep.failures;
    },
    stop: () => upkeep.stop(),
  };
}
