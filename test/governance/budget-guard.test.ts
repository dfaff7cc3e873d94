/**
 * The budget guard in a real engine: routing to a cheaper model, a streaming call cut when its
 * hold cannot be extended (partial text kept), quotas on runs, calls and tokens with period
 * rollover, concurrent-run limits (freed when runs end, are cancelled or park), a crashed
 * worker's holds expiring, and a failing ledger refusing (fail-closed) and reported.
 */
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import {
  createBudgetGuard, createMemoryLedger, type BudgetEvent, type BudgetLedger,
} from '../../src/governance/index.ts';
import { isPolicyError, topology, type EngineEvent, type PolicyDecisionEvent } from '../../src/index.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { actualCost, engineWith, oneCall, priced, probeEstimate } from './budget-support.ts';

const WORDS = [' a', ' b', ' c', ' d', ' e'];
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 3, 12);

const causeCode = (r: { error?: { cause?: unknown } | undefined }): string | undefined => (r.error?.cause as { code?: string } | undefined)?.code;

describe('budgets', () => {
  it('a call that does not fit is routed to the cheaper model when the rule says so; refused when even that does not fit', async () => {
    const est = await probeEstimate();
    const cheap = (est.costUsd / 1000) * 10; // b:small is 100x cheaper
    const events: BudgetEvent[] = [];
    const guard = createBudgetGuard({ clock: () => T0,
      ledger: createMemoryLedger(),
      budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: cheap * 1.5, onExceeded: { route: 'b:small' } }],
      onEvent: (e) => events.push(e),
    });
    const a = priced('a', WORDS);
    const b = priced('b', Array.from({ length: 10 }, () => ' cheap')); // bills (1 + 10) tokens: most of its estimate
    const engine = engineWith(guard, a, b);
    const seen: EngineEvent[] = [];
    engine.events$.subscribe((e) => seen.push(e));
    const r1 = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(r1.status).toBe('completed');
    expect(a.requests).toHaveLength(0);
    expect(b.requests).toHaveLength(1);
    expect(seen.filter((e): e is PolicyDecisionEvent => e.type === 'policy.decision')).toMatchObject([{ stage: 'call', rule: 'daily', routedTo: 'b:small' }]);
    await guard.flush();
    // what is left does not fit a second routed call: refused
    const r2 = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(causeCode(r2)).toBe('BUDGET_EXCEEDED');
    expect(events.filter((e) => e.type === 'refused')).toHaveLength(1);
    // another tenant has its own budget
    expect((await engine.run(oneCall(), { q: 'hi' }, { tenant: 'globex' })).status).toBe('completed');
    await engine.shutdown();
  });

  it('a streaming call whose hold cannot be extended is cut with BUDGET_EXCEEDED, its partial text kept and what it streamed billed', async () => {
    const est = await probeEstimate();
    const long = Array.from({ length: 60 }, (_, k) => ` w${k}`); // the provider ignores maxTokens
    const guard = createBudgetGuard({ clock: () => T0, ledger: createMemoryLedger(), budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: est.costUsd * 1.2 }] });
    const engine = engineWith(guard, priced('a', long, { async: true }));
    const r = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(r.status).toBe('failed');
    const cause = r.error?.cause;
    expect(isPolicyError(cause) && cause.code === 'BUDGET_EXCEEDED' && cause.rule === 'daily').toBe(true);
    expect(isPolicyError(cause) && long.join('').startsWith(cause.partial ?? 'x') && (cause.partial ?? '').length > 0).toBe(true);
    await guard.flush();
    const u = await guard.usage('daily', { tenant: 'acme' });
    expect(u.reserved).toBe(0);
    expect(u.spent).toBeGreaterThan(0);
    expect(u.spent).toBeLessThanOrEqual(est.costUsd * 1.2 + 1e-9);
    await engine.shutdown();
  });

  it('a streaming call past its estimate goes on when the extension asked ahead of need is granted; settled at what it billed', async () => {
    const est = await probeEstimate();
    const long = Array.from({ length: 40 }, (_, k) => ` w${k}`);
    const guard = createBudgetGuard({ clock: () => T0, ledger: createMemoryLedger(), budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: 10 }] });
    const engine = engineWith(guard, priced('a', long, { async: true }));
    const r = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(r.status).toBe('completed');
    expect(actualCost(long.length)).toBeGreaterThan(est.costUsd);
    await guard.flush();
    expect(await guard.usage('daily', { tenant: 'acme' })).toMatchObject({ reserved: 0, limit: 10 });
    expect((await guard.usage('daily', { tenant: 'acme' })).spent).toBeCloseTo(actualCost(long.length), 9);
    expect(await guard.remaining('daily', { tenant: 'acme' })).toBeCloseTo(10 - actualCost(long.length), 9);
    await engine.shutdown();
  });

  it('rules match on tenant, topology and model; unmatched calls are not asked about', async () => {
    const ledger = createMemoryLedger();
    const guard = createBudgetGuard({ clock: () => T0, ledger, budgets: [{ name: 'zero', per: 'global', period: 'total', limitUsd: 0, match: { tenant: 'free*', model: 'a:*' } }] });
    const engine = engineWith(guard, priced('a', WORDS));
    expect(causeCode(await engine.run(oneCall(), { q: 'hi' }, { tenant: 'free-1' }))).toBe('BUDGET_EXCEEDED');
    expect((await engine.run(oneCall(), { q: 'hi' }, { tenant: 'paid' })).status).toBe('completed');
    await engine.shutdown();
  });
});

describe('quotas', () => {
  it('runs per tenant per day: refused with QUOTA_EXCEEDED naming the rule, fresh the next day; a refused run holds nothing', async () => {
    let now = T0;
    const guard = createBudgetGuard({ ledger: createMemoryLedger(), quotas: [{ name: 'runs', per: 'tenant', period: 'day', runs: 2 }], clock: () => now });
    const a = priced('a', WORDS);
    const engine = engineWith(guard, a);
    for (let k = 0; k < 2; k++) expect((await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' })).status).toBe('completed');
    const r = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(isPolicyError(r.error) && r.error.code === 'QUOTA_EXCEEDED' && r.error.rule === 'runs').toBe(true);
    expect(a.requests).toHaveLength(2);
    expect((await engine.run(oneCall(), { q: 'hi' }, { tenant: 'globex' })).status).toBe('completed');
    await guard.flush();
    expect(await guard.usage('runs', { tenant: 'acme' })).toMatchObject({ spent: 2, reserved: 0, remaining: 0 });
    now += DAY;
    expect((await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' })).status).toBe('completed');
    await engine.shutdown();
  });

  it('calls and tokens per user: the call that would pass the quota is refused', async () => {
    const est = await probeEstimate();
    const tokens = est.inputTokens + est.outputTokens;
    const calls = createBudgetGuard({ clock: () => T0, ledger: createMemoryLedger(), quotas: [{ name: 'calls', per: 'user', period: 'month', calls: 2 }] });
    const e1 = engineWith(calls, priced('a', WORDS));
    for (let k = 0; k < 2; k++) expect((await e1.run(oneCall(), { q: 'hi' }, { user: 'ana' })).status).toBe('completed');
    expect(causeCode(await e1.run(oneCall(), { q: 'hi' }, { user: 'ana' }))).toBe('QUOTA_EXCEEDED');
    expect((await e1.run(oneCall(), { q: 'hi' }, { user: 'bo' })).status).toBe('completed');
    // one call settles at 1 + 5 tokens; a second needs its whole estimate again
    const tok = createBudgetGuard({ clock: () => T0, ledger: createMemoryLedger(), quotas: [{ name: 'tokens', per: 'user', period: 'day', tokens: tokens + 5 }] });
    const e2 = engineWith(tok, priced('a', WORDS));
    expect((await e2.run(oneCall(), { q: 'hi' }, { user: 'ana' })).status).toBe('completed');
    await tok.flush();
    expect((await tok.usage('tokens', { user: 'ana' })).spent).toBe(1 + WORDS.length);
    expect(causeCode(await e2.run(oneCall(), { q: 'hi' }, { user: 'ana' }))).toBe('QUOTA_EXCEEDED');
    await e1.shutdown();
    await e2.shutdown();
  });
});

describe('concurrency limits', () => {
  const gated = () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    return { gate: () => gate, open: () => open() };
  };

  it('CONCURRENCY_LIMIT (retriable) while N runs of a tenant are in flight; free again once they end or are cancelled', async () => {
    const g = gated();
    const guard = createBudgetGuard({ clock: () => T0, ledger: createMemoryLedger(), concurrency: [{ name: 'parallel', per: 'tenant', max: 2 }] });
    const engine = engineWith(guard, priced('a', WORDS, { gate: g.gate }));
    const ctl = new AbortController();
    const first = engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    const second = engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme', signal: ctl.signal });
    await new Promise((r) => setTimeout(r, 20));
    const third = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(isPolicyError(third.error) && third.error.code === 'CONCURRENCY_LIMIT' && third.error.rule === 'parallel' && third.error.retriable).toBe(true);
    expect(await guard.usage('parallel', { tenant: 'acme' })).toMatchObject({ reserved: 2, remaining: 0 });
    const other = engine.run(oneCall(), { q: 'hi' }, { tenant: 'globex' });
    ctl.abort();
    expect((await second).status).toBe('cancelled');
    await guard.flush();
    expect(await guard.usage('parallel', { tenant: 'acme' })).toMatchObject({ reserved: 1 });
    g.open();
    expect((await first).status).toBe('completed');
    expect((await other).status).toBe('completed');
    await guard.flush();
    expect(await guard.usage('parallel', { tenant: 'acme' })).toMatchObject({ reserved: 0, remaining: 2 });
    expect((await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' })).status).toBe('completed');
    await engine.shutdown();
  });

  it('a parked (waiting) durable run frees its slot', async () => {
    const guard = createBudgetGuard({ clock: () => T0, ledger: createMemoryLedger(), concurrency: [{ name: 'parallel', per: 'tenant', max: 1 }] });
    const parks = topology('parks', { input: z.object({ q: z.string() }) })
      .map('draft', { run: ({ input }) => input.q })
      .wait('approve', { after: ['draft'], name: 'approval', schema: z.object({ ok: z.boolean() }) })
      .build({ output: 'draft' });
    const engine = engineWith(guard, priced('a', WORDS), undefined, createMemoryStore());
    expect((await engine.run(parks, { q: 'x' }, { tenant: 'acme' })).status).toBe('waiting');
    await guard.flush();
    expect((await engine.run(parks, { q: 'y' }, { tenant: 'acme' })).status).toBe('waiting');
    await engine.shutdown();
  });

  it("a crashed worker's slots are freed after the reservation TTL, seen by another worker on the same ledger", async () => {
    let now = T0;
    const ledger = createMemoryLedger();
    const rules = { concurrency: [{ name: 'parallel', per: 'tenant' as const, max: 1 }], reservationTtlMs: 60_000, clock: () => now };
    const crashed = createBudgetGuard({ ledger, ...rules });
    const held = await crashed.run!({ runId: 'r1', topology: 't', tenant: 'acme', input: {} });
    expect(held.action).toBe('allow');
    crashed.stop(); // the worker dies: its hold is never refreshed nor released
    const survivor = createBudgetGuard({ ledger, ...rules });
    expect((await survivor.run!({ runId: 'r2', topology: 't', tenant: 'acme', input: {} })).action).toBe('deny');
    now += 60_000;
    expect((await survivor.run!({ runId: 'r3', topology: 't', tenant: 'acme', input: {} })).action).toBe('allow');
    survivor.stop();
  });
});

describe('holds of live runs', () => {
  it('are refreshed while the run lives, so they outlast the TTL; released at its end', async () => {
    vi.useFakeTimers();
    try {
      let now = T0;
      const ledger = createMemoryLedger();
      const rules = { concurrency: [{ name: 'parallel', per: 'tenant' as const, max: 1 }], reservationTtlMs: 60_000, clock: () => now };
      const worker = createBudgetGuard({ ledger, ...rules });
      const other = createBudgetGuard({ ledger, ...rules });
      const held = await worker.run!({ runId: 'r1', topology: 't', tenant: 'acme', input: {} });
      for (let k = 0; k < 10; k++) {
        now += 15_000;
        await vi.advanceTimersByTimeAsync(15_000);
      }
      await worker.flush();
      expect((await other.run!({ runId: 'r2', topology: 't', tenant: 'acme', input: {} })).action).toBe('deny');
      if (held.action === 'allow') held.ended?.('completed');
      await worker.flush();
      const again = await other.run!({ runId: 'r3', topology: 't', tenant: 'acme', input: {} });
      expect(again.action).toBe('allow');
      if (again.action === 'allow') again.ended?.('completed');
      worker.stop();
      other.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a failing ledger', () => {
  it('refuses runs and calls (POLICY_FAILED, fail-closed) and reports each failure', async () => {
    const boom = new Error('disk I/O error');
    const broken: BudgetLedger = { ...createMemoryLedger(), kind: 'broken', reserve: () => Promise.reject(boom) };
    const events: BudgetEvent[] = [];
    const guard = createBudgetGuard({ clock: () => T0,
      ledger: broken,
      budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: 5 }],
      quotas: [{ name: 'runs', per: 'tenant', period: 'day', runs: 5 }],
      onEvent: (e) => events.push(e),
    });
    const a = priced('a', WORDS);
    const engine = engineWith(guard, a);
    const r = await engine.run(oneCall(), { q: 'hi' }, { tenant: 'acme' });
    expect(r.error?.code).toBe('POLICY_FAILED');
    expect(a.requests).toHaveLength(0);
    expect(events).toMatchObject([{ type: 'ledger-failed', op: 'reserve', error: boom }]);
    expect(guard.failures).toBe(1);
    // a settle that fails after the call is reported too (nothing can be refused any more)
    const failingSettle: BudgetLedger = { ...createMemoryLedger(), settle: () => Promise.reject(boom) };
    const g2 = createBudgetGuard({ clock: () => T0, ledger: failingSettle, budgets: [{ name: 'daily', per: 'tenant', period: 'day', limitUsd: 5 }], onEvent: (e) => events.push(e) });
    const e2 = engineWith(g2, priced('a', WORDS));
    expect((await e2.run(oneCall(), { q: 'hi' }, { tenant: 'acme' })).status).toBe('completed');
    await g2.flush();
    expect(g2.failures).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: 'ledger-failed', op: 'settle' });
    await engine.shutdown();
    await e2.shutdown();
  });
});
