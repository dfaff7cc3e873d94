/**
 * Every ledger operation on the memory and SQLite ledgers (the PostgreSQL one runs the same
 * checks in test/governance/budget-postgres.int.test.ts): all-or-none reservations, settle,
 * release, extend, expiry of abandoned holds, and concurrent reservations never over the limit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isPolicyError, isValidationError } from '../../errors.ts';
import { createSqliteStore } from '../../stores/sqlite/store.ts';
import type { BudgetLedger } from './ledger.ts';
import { createMemoryLedger } from './memory.ts';
import { openLedger } from './open.ts';
import { createSqliteLedger } from './sqlite.ts';
import { describeLedger } from '../../../test/governance/budget-ledger-conformance.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'llmo-ledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (): string => path.join(dir, `l${n++}.db`);

describeLedger('memory', async () => createMemoryLedger());
describeLedger('sqlite', async () => createSqliteLedger({ path: file() }), async () => {
  const f = file();
  return [createSqliteLedger({ path: f }), createSqliteLedger({ path: f })];
});

describe('SQLite ledger file', () => {
  it('records its schema version, reopens the same data, and refuses a newer schema', async () => {
    const f = file();
    const a = createSqliteLedger({ path: f });
    await a.settle('x', { k: 2 });
    await a.close();
    const b = createSqliteLedger({ path: f });
    expect((await b.usage('k', 0)).spent).toBe(2);
    await b.close();
    const db = new Database(f);
    expect(db.prepare('SELECT version FROM llmo_budget_schema').all()).toEqual([{ version: 1 }]);
    db.prepare('INSERT INTO llmo_budget_schema (version, applied_at) VALUES (99, 0)').run();
    db.close();
    let err: unknown;
    try {
      createSqliteLedger({ path: f });
    } catch (e) {
      err = e;
    }
    expect(isPolicyError(err) && err.code === 'POLICY_FAILED' && /newer than this build/.test(err.message)).toBe(true);
  });

  it('shares one file with the run store, whichever opens it first', async () => {
    for (const ledgerFirst of [true, false]) {
      const f = file();
      const first = ledgerFirst ? createSqliteLedger({ path: f }) : createSqliteStore({ path: f });
      const second = ledgerFirst ? createSqliteStore({ path: f }) : createSqliteLedger({ path: f });
      const ledger = (ledgerFirst ? first : second) as ReturnType<typeof createSqliteLedger>;
      await ledger.settle('x', { k: 1 });
      expect((await ledger.usage('k', 0)).spent).toBe(1);
      await first.close();
      await second.close();
    }
  });

  it('a failing ledger rejects with POLICY_FAILED and the cause (never swallowed)', async () => {
    const l = createSqliteLedger({ path: file() });
    await l.close();
    const e = await l.reserve({ id: 'a', lines: [{ key: 'k', limit: 1, amount: 1 }], expiresAt: 10, now: 0 }).catch((x: unknown) => x);
    expect(isPolicyError(e) && e.code === 'POLICY_FAILED' && e.cause !== undefined).toBe(true);
  });
});

describe('openLedger', () => {
  it('opens memory:, sqlite:path and bare paths; refuses unknown schemes naming the url', async () => {
    const ledgers: BudgetLedger[] = [await openLedger('memory:'), await openLedger(`sqlite:${file()}`), await openLedger(file())];
    expect(ledgers.map((l) => l.kind)).toEqual(['memory', 'sqlite', 'sqlite']);
    for (const l of ledgers) await l.close();
    const e = await openLedger('redis://x').catch((x: unknown) => x);
    expect(isValidationError(e) && e.issues[0]?.path).toEqual(['url']);
  });
});
