/**
 * The budget race (issue 13): 1,000 concurrent runs through real engines against a small
 * budget. Total spend stays within the budget plus the largest single reservation, no call
 * starts once the budget is spent, and every refused run fails with BUDGET_EXCEEDED; the same
 * with two engines, each with its own ledger on one SQLite file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { createMemoryLedger, createSqliteLedger } from '../../src/governance/index.ts';
import { budgetRace } from './budget-support.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'llmo-budget-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
