/**
 * The in-memory budget ledger: one process, nothing survives a restart (tests, single workers).
 * @module
 */
import { firstRefused, ledgerFailed, mergeLines, type BudgetLedger, type KeyUsage, type ReserveRequest, type ReserveResult } from './ledger.ts';

interface Hold {
  expiresAt: number;
  readonly amounts: Map<string, number>;
}

/**
 * A budget ledger held in memory: every operation is atomic within this process.
 *
 * @example
 * ```ts
 * const ledger = createMemoryLedger();
 * await ledger.reserve({ id: 'c1', lines: [{ key: 'k', limit: 1, amount: 0.5 }], expiresAt: Date.now() + 60_000, now: Date.now() });
 * ```
 */
export function createMemoryLedger(): BudgetLedger {
  const spent = new Map<string, number>();
  const holds = new Map<string, Hold>();
  let closed = false;

  const open = (op: string): void => {
    if (closed) throw ledgerFailed('memory', op, new Error('the ledger is closed'));
  };
  const sweep = (now: number): number => {
    let n = 0;
    for (const [id, h] of holds) {
      if (h.expiresAt <= now) {
        holds.delete(id);
        n += h.amounts.size;
      }
    }
    return n;
  };
  const reserved = (key: string): number => {
    let sum = 0;
    for (const h of holds.values()) sum += h.amounts.get(key) ?? 0;
    return sum;
  };
  const hold = (req: ReserveRequest, mustExist: boolean): ReserveResult => {
    open(mustExist ? 'extend' : 'reserve');
    sweep(req.now);
    const lines = mergeLines(req.lines);
    const refused = firstRefused(lines, (k) => (spent.get(k) ?? 0) + reserved(k));
    if (refused !== undefined) return refused;
    let h = holds.get(req.id);
    if (h === undefined) {
      if (mustExist && lines.every((l) => l.amount === 0)) return { ok: true };
      h = { expiresAt: req.expiresAt, amounts: new Map() };
      holds.set(req.id, h);
    }
    h.expiresAt = req.expiresAt;
    for (const l of lines) h.amounts.set(l.key, (h.amounts.get(l.key) ?? 0) + l.amount);
    return { ok: true };
  };

  return {
    kind: 'memory',
    reserve: async (req) => hold(req, false),
    extend: async (req) => hold(req, true),
    settle: async (id, actual) => {
      open('settle');
      holds.delete(id);
      for (const [k, v] of Object.entries(actual)) if (v !== 0) spent.set(k, (spent.get(k) ?? 0) + v);
    },
    release: async (id) => {
      open('release');
      holds.delete(id);
    },
    usage: async (key, now): Promise<KeyUsage> => {
      open('usage');
      sweep(now);
      return { spent: spent.get(key) ?? 0, reserved: reserved(key) };
    },
    sweep: async (now) => (open('sweep'), sweep(now)),
    close: async () => {
      closed = true;
    },
  };
}
