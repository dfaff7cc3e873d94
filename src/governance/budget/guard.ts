/**
 * `createBudgetGuard`: budgets, quotas and concurrent-run limits as a guard. A call's pre-flight
 * estimate is reserved on every matching line in one atomic ledger operation (or routed to a
 * cheaper model, or refused), settled with what the call billed, and extended ahead of need
 * while it streams; a run holds its quota and concurrency lines until it ends.
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { CallCheck, CallEstimate, CallVerdict, CallWatch, GuardSubject, RunCheck, RunVerdict } from '../../definition/guard.ts';
import { PolicyError, type PolicyErrorCode } from '../../errors.ts';
import { parseOptions } from '../../runtime/options.ts';
import { ledgerKey, type BudgetSubject } from './keys.ts';
import type { LedgerLine, ReserveResult } from './ledger.ts';
import type { BudgetMatch, BudgetRule } from './rules.ts';
import { globMatcher } from '../policy/match.ts';
import { BudgetGuardOptionsSchema, type BudgetEvent, type BudgetGuard, type BudgetGuardOptions, type BudgetUsage } from './types.ts';

type Kind = 'cost' | 'runs' | 'calls' | 'tokens' | 'conc';
interface Line extends LedgerLine { readonly rule: string; readonly kind: Kind }
const CODE: Record<Kind, PolicyErrorCode> = { cost: 'BUDGET_EXCEEDED', runs: 'QUOTA_EXCEEDED', calls: 'QUOTA_EXCEEDED', tokens: 'QUOTA_EXCEEDED', conc: 'CONCURRENCY_LIMIT' };
const UNIT: Record<Kind, string> = { cost: 'USD', runs: 'runs', calls: 'calls', tokens: 'tokens', conc: 'runs in flight' };
const DEFAULT_TTL_MS = 10 * 60_000;

/** A rule's match as one predicate, its globs compiled once (as `matchesPattern`: an absent pattern matches anything, an absent value nothing). */
function compileMatch(m: BudgetMatch | undefined): (s: GuardSubject, model?: string) => boolean {
  if (m === undefined) return () => true;
  const field = (p: string | readonly string[] | undefined): ((v: string | undefined) => boolean) => {
    if (p === undefined) return () => true;
    const g = globMatcher(p);
    return (v) => v !== undefined && g(v);
  };
  const tenant = field(m.tenant);
  const topology = field(m.topology);
  const model = field(m.model);
  return (s, ref) => tenant(s.tenant) && topology(s.topology) && model(ref);
}

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
  const quotas = o.quotas ?? [];
  const concurrency = o.concurrency ?? [];
  const runQuotas = quotas.filter((q) => q.runs !== undefined);
  const callQuotas = quotas.filter((q) => q.runs === undefined);
  // each rule's match compiled once, at creation (checks run per call)
  const compiled = new Map<BudgetMatch | undefined, (s: GuardSubject, model?: string) => boolean>();
  for (const r of [...budgets, ...quotas, ...concurrency]) if (!compiled.has(r.match)) compiled.set(r.match, compileMatch(r.match));
  const matches = (m: BudgetMatch | undefined, s: GuardSubject, model?: string): boolean => compiled.get(m)!(s, model);
  const pending = new Set<Promise<unknown>>();
  const live = new Set<string>();
  let failures = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const emit = (e: BudgetEvent): void => {
    try {
      o.onEvent?.(e);
    } catch {
      // a listener's own failure must not change a decision
    }
  };
  const failed = (op: string, error: unknown, runId?: string): void => {
    failures++;
    emit({ type: 'ledger-failed', op, error, runId });
  };
  /** A ledger step whose failure refuses (the caller's verdict becomes POLICY_FAILED): reported, then rethrown. */
  const must = async <T>(op: string, runId: string, p: () => Promise<T>): Promise<T> => {
    try {
      return await p();
    } catch (e) {
      failed(op, e, runId);
      throw e;
    }
  };
  /** A ledger step nothing waits for (settle, release, refresh): tracked for `flush`, its failure reported. */
  const track = (op: string, runId: string | undefined, p: () => Promise<unknown>): void => {
    const q = p().catch((e: unknown) => failed(op, e, runId)).finally(() => pending.delete(q));
    pending.add(q);
  };
  const hold = (id: string): void => {
    live.add(id);
    timer ??= setInterval(() => {
      const now = clock();
      for (const h of live) track('refresh', undefined, () => ledger.extend({ id: h, lines: [], expiresAt: now + ttl, now }));
    }, Math.max(1, Math.floor(ttl / 3)));
    (timer as { unref?: () => void }).unref?.();
  };
  const unhold = (id: string): void => {
    live.delete(id);
    if (live.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const refusal = (stage: 'run' | 'call' | 'stream', r: Extract<ReserveResult, { ok: false }>, lines: readonly Line[], runId: string, need?: number): PolicyError => {
    const line = lines.find((l) => l.key === r.key)!;
    const code = CODE[line.kind];
    emit({ type: 'refused', stage, rule: line.rule, code, key: r.key, remaining: r.remaining, limit: r.limit, runId });
    const needs = need === undefined ? '' : `; it needs ${need}`;
    return new PolicyError(code, `${name}: rule ${line.rule} has ${r.remaining} ${UNIT[line.kind]} left of ${r.limit} (${r.key})${needs}`, { rule: line.rule });
  };

  const runLines = (c: RunCheck, now: number): Line[] => [
    ...runQuotas.filter((q) => matches(q.match, c)).map((q): Line => ({ rule: q.name, kind: 'runs', key: ledgerKey('runs', q.name, q.per, c, q.period, now), limit: q.runs!, amount: 1 })),
    ...concurrency.filter((r) => matches(r.match, c)).map((r): Line => ({ rule: r.name, kind: 'conc', key: ledgerKey('conc', r.name, r.per, c, undefined, now), limit: r.max, amount: 1 })),
  ];

  const run = async (c: RunCheck): Promise<RunVerdict> => {
    const now = clock();
    const lines = runLines(c, now);
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

  const callLines = (c: CallCheck, e: CallEstimate, now: number, matching: readonly BudgetRule[]): Line[] => [
    ...matching.map((b): Line => ({ rule: b.name, kind: 'cost', key: ledgerKey('cost', b.name, b.per, c, b.period, now), limit: b.limitUsd, amount: e.costUsd })),
    ...callQuotas.filter((q) => matches(q.match, c, c.model)).map((q): Line => (q.calls !== undefined
      ? { rule: q.name, kind: 'calls', key: ledgerKey('calls', q.name, q.per, c, q.period, now), limit: q.calls, amount: 1 }
      : { rule: q.name, kind: 'tokens', key: ledgerKey('tokens', q.name, q.per, c, q.period, now), limit: q.tokens!, amount: e.inputTokens + e.outputTokens })),
  ];

  const call = async (c: CallCheck): Promise<CallVerdict> => {
    const now = clock();
    const matching = budgets.filter((b) => matches(b.match, c, c.model));
    let est = c.estimate;
    let lines = callLines(c, est, now, matching);
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
        const there = callLines({ ...c, model: route! }, routed, now, matching);
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
    return { action: 'allow', rule: routedBy, ...(model === undefined ? {} : { model }), watch: watchOf(c, id, lines, est) };
  };

  /** The call's watch: extend ahead of need while it streams, cut when more was refused, settle at the end. */
  const watchOf = (c: CallCheck, id: string, lines: readonly Line[], est: CallEstimate): CallWatch => {
    // a call priced at 0 (a model without a price) streams at cost 0: its cost lines need no watching
    const costLines = est.costUsd > 0 ? lines.filter((l) => l.kind === 'cost') : [];
    const tokenLines = lines.filter((l) => l.kind === 'tokens');
    let heldCost = est.costUsd;
    let heldTokens = est.inputTokens + est.outputTokens;
    const extraCost = Math.max(est.costUsd / 2, 1e-9);
    const extraTokens = Math.max(Math.ceil(est.outputTokens / 2), 1);
    let asking: Promise<void> | undefined;
    let refused: PolicyError | undefined;
    let done = false;
    const ask = (): void => {
      const now = clock();
      const more = [...costLines.map((l) => ({ ...l, amount: extraCost })), ...tokenLines.map((l) => ({ ...l, amount: extraTokens }))];
      asking = ledger.extend({ id, lines: more, expiresAt: now + ttl, now }).then(
        (r) => {
          if (r.ok) {
            heldCost += extraCost;
            heldTokens += extraTokens;
          } else refused = refusal('stream', r, lines, c.runId);
        },
        (e: unknown) => {
          failed('extend', e, c.runId);
          refused = new PolicyError('POLICY_FAILED', `${name}: the ledger failed while extending a streaming call's hold (cut: fail-closed)`, { rule: name, cause: e });
        },
      ).finally(() => {
        asking = undefined;
      });
    };
    return {
      streamed: (outputTokens, costUsd) => {
        if (done || (costLines.length === 0 && tokenLines.length === 0)) return undefined;
        const tokens = est.inputTokens + outputTokens;
        const cost = costLines.length > 0 ? costUsd : 0;
        if (asking === undefined && refused === undefined && (cost >= extendAt * heldCost || (tokenLines.length > 0 && tokens >= extendAt * heldTokens))) ask();
        // while more is being asked for, the call may go on into it; past it, or once refused, it is cut
        const capCost = heldCost + (asking === undefined ? 0 : extraCost);
        const capTokens = heldTokens + (asking === undefined ? 0 : extraTokens);
        const over = (costLines.length > 0 && cost > capCost * (1 + 1e-9)) || (tokenLines.length > 0 && tokens > capTokens);
        if (!over) return undefined;
        return refused ?? new PolicyError(costLines.length > 0 && cost > capCost ? 'BUDGET_EXCEEDED' : 'QUOTA_EXCEEDED', `${name}: the call streamed past what it holds and more was not granted in time`, { rule: (costLines[0] ?? tokenLines[0])!.rule });
      },
      ended: (used) => {
        if (done) return;
        done = true;
        unhold(id);
        const wait = asking;
        track(used === undefined ? 'release' : 'settle', c.runId, async () => {
          await wait; // an extension in flight lands before the hold is settled, never after
          if (used === undefined) return ledger.release(id);
          const actual: Record<string, number> = {};
          for (const l of lines) {
            actual[l.key] = (actual[l.key] ?? 0) + (l.kind === 'cost' ? used.costUsd : l.kind === 'calls' ? 1 : used.usage.inputTokens + used.usage.outputTokens);
          }
          return ledger.settle(id, actual);
        });
      },
    };
  };

  const ruleLine = (rule: string, s: BudgetSubject, now: number): { key: string; limit: number } => {
    const b = budgets.find((x) => x.name === rule);
    if (b !== undefined) return { key: ledgerKey('cost', b.name, b.per, s, b.period, now), limit: b.limitUsd };
    const q = quotas.find((x) => x.name === rule);
    if (q !== undefined) {
      const kind = q.runs !== undefined ? 'runs' : q.calls !== undefined ? 'calls' : 'tokens';
      return { key: ledgerKey(kind, q.name, q.per, s, q.period, now), limit: (q.runs ?? q.calls ?? q.tokens)! };
    }
    const r = concurrency.find((x) => x.name === rule);
    if (r !== undefined) return { key: ledgerKey('conc', r.name, r.per, s, undefined, now), limit: r.max };
    throw new PolicyError('POLICY_FAILED', `${name}: no budget, quota or concurrency rule is named ${JSON.stringify(rule)}`, { rule });
  };
  const usage = async (rule: string, s: BudgetSubject = {}): Promise<BudgetUsage> => {
    const now = clock();
    const { key, limit } = ruleLine(rule, s, now);
    const u = await ledger.usage(key, now);
    return { rule, key, spent: u.spent, reserved: u.reserved, limit, remaining: Math.max(0, limit - u.spent - u.reserved) };
  };

  const anyRun = runQuotas.length > 0 || concurrency.length > 0;
  const anyCall = budgets.length > 0 || callQuotas.length > 0;
  return {
    name,
    ...(anyRun ? { run: (c: RunCheck) => (runLines(c, clock()).length === 0 ? { action: 'allow' } as const : run(c)) } : {}),
    ...(anyCall ? { call: (c: CallCheck) => (callLines(c, c.estimate, clock(), budgets.filter((b) => matches(b.match, c, c.model))).length === 0 ? { action: 'allow' } as const : call(c)) } : {}),
    usage,
    remaining: async (rule, s) => (await usage(rule, s)).remaining,
    flush: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    get failures() {
      return failures;
    },
    stop: () => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      live.clear();
    },
  };
}
