/**
 * The checks every budget ledger passes (memory, SQLite, PostgreSQL), for their tests.
 * @module
 */
import { describe, expect, it } from 'vitest';
import { isPolicyError } from '../../src/errors.ts';
import type { BudgetLedger } from '../../src/governance/budget/ledger.ts';

/**
 * Declares the ledger conformance suite for one implementation; `pair` opens two ledgers on the same data (other processes' view).
 *
 * @example
 * ```ts
 * describeLedger('memory', async () => createMemoryLedger());
 * ```
 */
export function describeLedger(kind: string, open: () => Promise<BudgetLedger>, pair?: () => Promise<[BudgetLedger, BudgetLedger]>): void {
  const line = (key: string, limit: number, amount: number) => ({ key, limit, amount });
  describe(`${kind} ledger`, () => {
    it('reserves every line or none, naming the key that did not fit and what it had left', async () => {
      const l = await open();
      expect(await l.reserve({ id: 'a', lines: [line('x', 10, 4), line('y', 5, 3)], expiresAt: 100, now: 0 })).toEqual({ ok: true });
      expect(await l.reserve({ id: 'b', lines: [line('x', 10, 4), line('y', 5, 3)], expiresAt: 100, now: 0 })).toEqual({ ok: false, key: 'y', remaining: 2, limit: 5 });
      // nothing of b was held on x
      expect(await l.usage('x', 0)).toEqual({ spent: 0, reserved: 4 });
      expect(await l.reserve({ id: 'c', lines: [line('x', 10, 6)], expiresAt: 100, now: 0 })).toEqual({ ok: true });
      expect((await l.reserve({ id: 'd', lines: [line('x', 10, 0.001)], expiresAt: 100, now: 0 })).ok).toBe(false);
      // zero amounts never refuse
      expect((await l.reserve({ id: 'e', lines: [line('x', 10, 0)], expiresAt: 100, now: 0 })).ok).toBe(true);
      await l.close();
    });

    it('settle replaces the hold by what was spent (more than held included); release frees it', async () => {
      const l = await open();
      await l.reserve({ id: 'a', lines: [line('x', 10, 4), line('n', 3, 1)], expiresAt: 100, now: 0 });
      await l.settle('a', { x: 6, n: 1 });
      expect(await l.usage('x', 0)).toEqual({ spent: 6, reserved: 0 });
      expect(await l.usage('n', 0)).toEqual({ spent: 1, reserved: 0 });
      await l.reserve({ id: 'b', lines: [line('x', 10, 4)], expiresAt: 100, now: 0 });
      expect((await l.reserve({ id: 'c', lines: [line('x', 10, 1)], expiresAt: 100, now: 0 })).ok).toBe(false);
      await l.release('b');
      expect(await l.usage('x', 0)).toEqual({ spent: 6, reserved: 0 });
      expect(await l.reserve({ id: 'c', lines: [line('x', 10, 4)], expiresAt: 100, now: 0 })).toEqual({ ok: true });
      await l.close();
    });

    it('extend adds to a hold with the same check and moves its expiry; a refresh of a gone hold creates nothing', async () => {
      const l = await open();
      await l.reserve({ id: 'a', lines: [line('x', 10, 4)], expiresAt: 100, now: 0 });
      expect(await l.extend({ id: 'a', lines: [line('x', 10, 5)], expiresAt: 200, now: 50 })).toEqual({ ok: true });
      expect(await l.extend({ id: 'a', lines: [line('x', 10, 2)], expiresAt: 200, now: 50 })).toEqual({ ok: false, key: 'x', remaining: 1, limit: 10 });
      expect(await l.usage('x', 150)).toEqual({ spent: 0, reserved: 9 }); // alive past its first expiry
      expect(await l.extend({ id: 'gone', lines: [], expiresAt: 300, now: 150 })).toEqual({ ok: true });
      expect(await l.extend({ id: 'a', lines: [], expiresAt: 400, now: 150 })).toEqual({ ok: true });
      expect(await l.usage('x', 350)).toEqual({ spent: 0, reserved: 9 });
      expect(await l.usage('x', 400)).toEqual({ spent: 0, reserved: 0 });
      await l.close();
    });

    it('abandoned holds expire (a crashed worker does not keep its budget forever)', async () => {
      const l = await open();
      await l.reserve({ id: 'dead', lines: [line('x', 1, 1)], expiresAt: 1_000, now: 0 });
      expect((await l.reserve({ id: 'b', lines: [line('x', 1, 1)], expiresAt: 2_000, now: 999 })).ok).toBe(false);
      expect((await l.reserve({ id: 'b', lines: [line('x', 1, 1)], expiresAt: 2_000, now: 1_000 })).ok).toBe(true);
      await l.reserve({ id: 'c', lines: [line('y', 9, 1), line('z', 9, 1)], expiresAt: 1_500, now: 1_000 });
      expect(await l.sweep(1_600)).toBe(2);
      expect(await l.usage('y', 1_600)).toEqual({ spent: 0, reserved: 0 });
      await l.close();
    });

    it('concurrent reservations never hold more than the limit', async () => {
      const [a, b] = pair === undefined ? await open().then((x) => [x, x] as const) : await pair();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? a : b).reserve({ id: `r${i}`, lines: [line('k', 50, 1), line(`own${i}`, 5, 1)], expiresAt: 100, now: 0 })));
      expect(results.filter((r) => r.ok)).toHaveLength(50);
      expect(await b.usage('k', 0)).toEqual({ spent: 0, reserved: 50 });
      await a.close();
      if (b !== a) await b.close();
    });

    it('a closed ledger rejects with POLICY_FAILED', async () => {
      const l = await open();
      await l.close();
      const e = await l.usage('x', 0).catch((x: unknown) => x);
      expect(isPolicyError(e) && e.code === 'POLICY_FAILED').toBe(true);
    });
  });
}
