/**
 * Shared pieces of the budget guard tests: a priced recording provider (optionally gated, so
 * runs stay in flight), an engine around a budget guard, and the probe of a call's estimate.
 * @module
 */
import { Observable } from 'rxjs';
import { expect } from 'vitest';
import { createBudgetGuard, type BudgetLedger } from '../../src/governance/index.ts';
import {
  createEngine, createModels, isPolicyError, topology, type RunResult,
  type CallEstimate, type CompletionRequest, type Engine, type Guard, type Provider, type ProviderEvent, type RunStore,
} from '../../src/index.ts';

/** Price of `a:big` and `b:small` (USD per million tokens): 1,000 and 10. */
export const PRICES = { 'a:big': { input: 1000, output: 1000 }, 'b:small': { input: 10, output: 10 } };

/**
 * A provider that records requests and streams `words` (one token each), then reports usage of
 * 1 input token and one output token per word; `gate` (when given) holds each call before its first word;
 * `async` streams one word per macrotask (so a guard's asynchronous extension can land mid-stream).
 */
export function priced(name: string, words: readonly string[], opts: { gate?: () => Promise<void>; async?: boolean; onRequest?: (req: CompletionRequest) => void } = {}): Provider & { readonly requests: CompletionRequest[] } {
  const requests: CompletionRequest[] = [];
  return {
    name,
    requests,
    stream: (req) => new Observable<ProviderEvent>((s) => {
      requests.push(req);
      opts.onRequest?.(req);
      let stopped = false;
      void (async () => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        if (opts.gate !== undefined) await opts.gate();
        for (const w of words) {
          if (stopped || s.closed) return;
          s.next({ type: 'text', text: w });
          if (opts.async === true) await new Promise((r) => setImmediate(r));
        }
        if (stopped || s.closed) return;
        s.next({ type: 'usage', usage: { inputTokens: 1, outputTokens: words.length, cachedTokens: 0, reasoningTokens: 0 } });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      })();
      return () => {
        stopped = true;
      };
    }),
  };
}

/** One llm node on `a:big` writing at most `maxTokens`. */
export const oneCall = (maxTokens = 10) => topology('budgeted')
  .llm('answer', { model: 'a:big', prompt: ({ input }) => String((input as { q: string }).q), maxTokens })
  .build({ output: 'answer' });

/** An engine calling `a` (as `a:big`) and `b` (as `b:small`) under `guard`. */
export function engineWith(guard: Guard | undefined, a: Provider, b: Provider = priced('b', [' cheap']), store?: RunStore, maxInFlight?: number): Engine {
  const models = createModels({ providers: [a, b], prices: PRICES });
  return createEngine({ models, ...(guard === undefined ? {} : { guard }), ...(store === undefined ? {} : { store }), ...(maxInFlight === undefined ? {} : { maxInFlight }) });
}

/** The estimate the engine gives the guard for one call of `oneCall(maxTokens)` with input `q`. */
export async function probeEstimate(q = 'hi', maxTokens = 10): Promise<CallEstimate> {
  let est: CallEstimate | undefined;
  const engine = engineWith({ call: (c) => ((est = c.estimate), { action: 'allow' }) }, priced('a', [' x']));
  await engine.run(oneCall(maxTokens), { q });
  await engine.shutdown();
  return est!;
}

/** Actual cost of a call streaming `words` words (1 input token, one token per word) on `a:big`. */
export const actualCost = (words: number): number => ((1 + words) * PRICES['a:big'].input) / 1e6;

/** Resolves after `n` turns of the event loop (a wave of runs starts while earlier calls stream and settle). */
const ticks = async (n: number): Promise<void> => {
  for (let k = 0; k < n; k++) await new Promise((r) => setImmediate(r));
};

const RACE_WORDS = [' a', ' b', ' c', ' d', ' e'];
const BUDGET = 0.25;

/**
 * The budget race (issue 13): `runs` runs split over one engine per ledger (all at once, or started in
 * `waves` so calls settle while others reserve) against a small shared budget; checks its invariants.
 */
export async function budgetRace(ledgers: readonly BudgetLedger[], waves?: number, opts: { refill?: boolean; runs?: number } = {}): Promise<void> {
  const runs = opts.runs ?? 1000;
  const est = await probeEstimate();
  const cost = actualCost(RACE_WORDS.length);
  expect(cost).toBeLessThanOrEqual(est.costUsd); // the pre-flight estimate bounds what a call bills
  let billed = 0;
  let lateStarts = 0;
  const provider = priced('a', RACE_WORDS, {
    async: true,
    // a call starting when what was billed already leaves no room for it is a call after the budget was spent
    onRequest: () => {
      if (billed + cost > BUDGET + 1e-9) lateStarts++;
    },
  });
  const guards = ledgers.map((ledger) => createBudgetGuard({ ledger, budgets: [{ name: 'shared', per: 'global', period: 'total', limitUsd: BUDGET }] }));
  const engines = guards.map((g) => engineWith(g, provider));
  const t = oneCall();
  const results: RunResult[] = await Promise.all(Array.from({ length: runs }, (_, i) =>
    ticks(waves === undefined ? 0 : (i % waves) * 20).then(() => engines[i % engines.length]!.run(t, { q: 'hi' }, { tenant: `t${i % 7}` })).then((r) => {
      if (r.status === 'completed') billed += cost;
      return r;
    })));
  for (const g of guards) await g.flush();
  const completed = results.filter((r) => r.status === 'completed');
  const refused = results.filter((r) => r.status === 'failed');
  expect(completed.length + refused.length).toBe(runs);
  for (const r of refused) {
    const cause = r.error?.cause;
    expect(isPolicyError(cause) && cause.code === 'BUDGET_EXCEEDED' && cause.rule === 'shared').toBe(true);
  }
  expect(provider.requests).toHaveLength(completed.length);
  expect(completed.length).toBeGreaterThan(0);
  expect(refused.length).toBeGreaterThan(0);
  const u = await guards[0]!.usage('shared');
  expect(u.reserved).toBe(0);
  expect(u.spent).toBeCloseTo(completed.length * cost, 9);
  expect(u.spent).toBeLessThanOrEqual(BUDGET + est.costUsd);
  expect(lateStarts).toBe(0);
  // nothing refused while the budget had room for a call at its estimate
  expect(completed.length).toBeGreaterThanOrEqual(Math.floor(BUDGET / est.costUsd));
  // started in waves, calls settle below their estimate and free room for more (in-process ledgers: the event
  // loop's order decides; over a network the timing does, so the PostgreSQL run does not assert it)
  if (waves !== undefined && opts.refill !== false) expect(completed.length).toBeGreaterThan(Math.floor(BUDGET / est.costUsd));
  for (const e of engines) await e.shutdown();
}

