/**
 * The budget race (issue 13): 1,000 concurrent runs through real engines against a small
 * budget. Total spend stays within the budget plus the largest single reservation, no call
 * starts once the budget is spent, and every refused run fails with BUDGET_EXCEEDED; the same
 * with two engines, each with its own ledger on one SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBudgetGuard, createMemoryLedger, createSqliteLedger, type BudgetLedger } from '../../src/governance/index.ts';
import { isPolicyError, type RunResult } from '../../src/index.ts';
import { actualCost, engineWith, oneCall, priced, probeEstimate } from './budget-support.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'llmo-budget-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves after `n` turns of the event loop (a wave of runs starts while earlier calls stream and settle). */
const ticks = async (n: number): Promise<void> => {
  for (let k = 0; k < n; k++) await new Promise((r) => setImmediate(r));
};

const WORDS = [' a', ' b', ' c', ' d', ' e'];
const BUDGET = 0.25;

/** Runs `runs` runs split over one engine per ledger, all at once; checks the race's invariants. */
export async function budgetRace(ledgers: readonly BudgetLedger[], waves?: number, runs = 1000): Promise<void> {
  const est = await probeEstimate();
  const cost = actualCost(WORDS.length);
  expect(cost).toBeLessThanOrEqual(est.costUsd); // the pre-flight estimate bounds what a call bills
  let billed = 0;
  let lateStarts = 0;
  const provider = priced('a', WORDS, {
    async: true,
    // a call starting when what was billed already leaves no room for it is a call after the budget was spent
    onRequest: () => {
      if (billed + cost > BUDGET + 1e-9) lateStarts++;
    },
  });
  const guards = ledgers.map((ledger) => createBudgetGuard({ ledger, budgets: [{ name: 'shared', per: 'global', period: 'day', limitUsd: BUDGET }] }));
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
  // started in waves, calls settle below their estimate and free room for more
  if (waves !== undefined) expect(completed.length).toBeGreaterThan(Math.floor(BUDGET / est.costUsd));
  for (const e of engines) await e.shutdown();
}

describe('budget race', () => {
  it('1,000 concurrent runs, one engine, memory ledger', async () => {
    await budgetRace([createMemoryLedger()]);
  });

  it('1,000 runs started in 25 waves (calls settle while others reserve), memory ledger', async () => {
    await budgetRace([createMemoryLedger()], 25);
  });

  it('1,000 runs in 25 waves, two engines, each with its own ledger on the same SQLite file', async () => {
    const file = path.join(dir, 'shared.db');
    const ledgers = [createSqliteLedger({ path: file }), createSqliteLedger({ path: file })];
    await budgetRace(ledgers, 25);
    for (const l of ledgers) await l.close();
  });
});
