/**
 * The budget ledger: what each key (a budget, quota or concurrency line of one period) has
 * spent and holds in reservations, changed atomically so that concurrent callers, in one
 * process or several sharing a database, never together hold more than a line's limit.
 * Implementations: memory (`createMemoryLedger`), SQLite (`createSqliteLedger`), PostgreSQL
 * (`createPostgresLedger`); `openLedger(url)` picks one.
 * @module
 */
import { PolicyError } from '../../errors.ts';

/**
 * One line of a reservation: a key, its limit, and how much to hold on it.
 *
 * @example
 * ```ts
 * const line: LedgerLine = { key: 'cost|daily|tenant=acme|day=2026-12-03', limit: 10, amount: 0.25 };
 * ```
 */
export interface LedgerLine {
  readonly key: string;
  readonly limit: number;
  readonly amount: number;
}

/**
 * A request to hold amounts on several keys at once, all or none.
 *
 * @example
 * ```ts
 * const req: ReserveRequest = { id: 'call-1', lines: [line], expiresAt: Date.now() + 60_000, now: Date.now() };
 * ```
 */
export interface ReserveRequest {
  /** The reservation's id (unique per hold; `settle`/`release`/`extend` name it). */
  readonly id: string;
  readonly lines: readonly LedgerLine[];
  /** When the hold is freed if nobody settles or releases it (a crashed worker's holds do not leak). */
  readonly expiresAt: number;
  /** The caller's clock: reservations expired at `now` are freed first. */
  readonly now: number;
}

/**
 * The answer to a reservation: held, or refused on the first key that did not fit (with what it had left).
 *
 * @example
 * ```ts
 * const r: ReserveResult = { ok: false, key: 'cost|daily|tenant=acme|day=2026-12-03', remaining: 0.1, limit: 10 };
 * ```
 */
export type ReserveResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly key: string; readonly remaining: number; readonly limit: number };

/**
 * A key's totals: spent (settled) and held (live reservations).
 *
 * @example
 * ```ts
 * const u: KeyUsage = { spent: 3.2, reserved: 0.4 };
 * ```
 */
export interface KeyUsage {
  readonly spent: number;
  readonly reserved: number;
}

/**
 * Budget ledger operations. Every one is atomic; a failing ledger rejects with a
 * PolicyError `POLICY_FAILED` (its `cause` the driver's error, `retriable` when trying again may work).
 *
 * @example
 * ```ts
 * const r = await ledger.reserve({ id: 'c1', lines: [{ key: 'k', limit: 10, amount: 2 }], expiresAt: now + 60_000, now });
 * if (r.ok) await ledger.settle('c1', { k: 1.5 });
 * ```
 */
export interface BudgetLedger {
  /** Which implementation (`memory`, `sqlite`, `postgres`). */
  readonly kind: string;
  /**
   * Holds every line's amount or none: refused when `spent + reserved + amount > limit` for a line
   * (lines with amount 0 are never refused). An id that already holds adds to its hold (that is `extend`).
   */
  reserve(req: ReserveRequest): Promise<ReserveResult>;
  /** Adds `lines` to an existing hold (same atomic check) and moves its expiry to `expiresAt`. */
  extend(req: ReserveRequest): Promise<ReserveResult>;
  /**
   * Replaces the hold by what was actually spent per key (may exceed what was held: recorded as spent).
   * Keys of the hold missing from `actual` spent nothing.
   */
  settle(id: string, actual: Readonly<Record<string, number>>): Promise<void>;
  /** Frees the hold (nothing spent). */
  release(id: string): Promise<void>;
  /** A key's totals at `now` (expired holds not counted). */
  usage(key: string, now: number): Promise<KeyUsage>;
  /** Frees every hold expired at `now`; resolves with how many lines were freed. */
  sweep(now: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The ledger failed: a PolicyError `POLICY_FAILED` (fail-closed) naming the operation, with the cause.
 *
 * @example
 * ```ts
 * throw ledgerFailed('sqlite', 'reserve', e, true);
 * ```
 */
export function ledgerFailed(kind: string, op: string, cause: unknown, retriable = false): PolicyError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new PolicyError('POLICY_FAILED', `budget ledger (${kind}) ${op} failed: ${detail}`, { rule: 'budget-ledger', cause, retriable });
}

/**
 * The first line that does not fit, given each key's spent + reserved total, or undefined when all fit.
 *
 * @example
 * ```ts
 * firstRefused([{ key: 'k', limit: 1, amount: 2 }], () => 0); // { ok: false, key: 'k', remaining: 1, limit: 1 }
 * ```
 */
export function firstRefused(lines: readonly LedgerLine[], used: (key: string) => number): Extract<ReserveResult, { ok: false }> | undefined {
  for (const l of lines) {
    if (!(l.amount > 0)) continue;
    const u = used(l.key);
    // a tiny tolerance: float sums of many small costs must not refuse an exact fit
    if (u + l.amount > l.limit + 1e-12 * Math.max(1, l.limit)) return { ok: false, key: l.key, remaining: Math.max(0, l.limit - u), limit: l.limit };
  }
  return undefined;
}

/**
 * The lines of a request merged per key (amounts added, the smallest limit kept), in key order (the lock order).
 *
 * @example
 * ```ts
 * mergeLines([{ key: 'b', limit: 1, amount: 1 }, { key: 'a', limit: 2, amount: 1 }]).map((l) => l.key); // ['a', 'b']
 * ```
 */
export function mergeLines(lines: readonly LedgerLine[]): LedgerLine[] {
  const by = new Map<string, LedgerLine>();
  for (const l of lines) {
    const had = by.get(l.key);
    by.set(l.key, had === undefined ? l : { key: l.key, limit: Math.min(had.limit, l.limit), amount: had.amount + l.amount });
  }
  return [...by.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
