/**
 * The PostgreSQL budget ledger against a real server (test/stores/global-setup.ts provides its
 * URL; the suite skips without one outside CI): the ledger conformance suite, migrations on
 * open, concurrent reservations through two pools, and the budget race across two engines,
 * each with its own ledger on the same database.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isPolicyError } from '../../src/errors.ts';
import { openLedger, type BudgetLedger } from '../../src/governance/index.ts';
import { pgSchemas } from '../support/pg-schemas.ts';
import { describeLedger } from './budget-ledger-conformance.ts';
import { budgetRace } from './budget-support.ts';

const { url, fresh, at, admin, dropAll } = pgSchemas('llmo_budget');

describe.skipIf(url === '')('PostgreSQL budget ledger', () => {
  afterAll(() => dropAll());

  describeLedger('postgres', () => openLedger(at(fresh())), async () => {
    const s = fresh();
    return [await openLedger(at(s)), await openLedger(at(s))];
  });

  it('migrates once when several open at the same time, records its version, and refuses a newer schema', async () => {
    const s = fresh();
    const opened: BudgetLedger[] = await Promise.all([openLedger(at(s)), openLedger(at(s)), openLedger(at(s))]);
    for (const l of opened) await l.close();
    const rows = await admin(async (c) => (await c.query(`SELECT version FROM "${s}".llmo_budget_schema`)).rows);
    expect(rows).toEqual([{ version: 1 }]);
    await admin((c) => c.query(`INSERT INTO "${s}".llmo_budget_schema (version, applied_at) VALUES (99, 0)`));
    const e = await openLedger(at(s)).catch((x: unknown) => x);
    expect(isPolicyError(e) && e.code === 'POLICY_FAILED' && /newer than this build/.test(e.message)).toBe(true);
  });

  it('an unreachable server is POLICY_FAILED, retriable, with the cause', async () => {
    const e = await openLedger('postgres://llmo:llmo@127.0.0.1:1/llmo').catch((x: unknown) => x);
    expect(isPolicyError(e) && e.code === 'POLICY_FAILED' && e.retriable && e.cause !== undefined).toBe(true);
  });

  it('the budget race: 1,000 runs in waves, two engines, each with its own ledger on the same database', async () => {
    const s = fresh();
    const ledgers = [await openLedger(at(s)), await openLedger(at(s))];
    await budgetRace(ledgers, 25, { refill: false });
    for (const l of ledgers) await l.close();
  });
});
