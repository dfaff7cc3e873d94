/**
 * Ledger keys of the budget rules: the rule, the subject it is counted per, and the period
 * bucket (so a new day or month starts fresh), e.g. `cost|acme-daily|tenant=acme|day=2026-12-03`.
 * @module
 */

/**
 * Who a check is about, as far as the rules count it.
 *
 * @example
 * ```ts
 * const s: BudgetSubject = { tenant: 'acme', user: 'u7' };
 * ```
 */
export interface BudgetSubject {
  readonly tenant?: string | undefined;
  readonly user?: string | undefined;
  readonly project?: string | undefined;
}

/**
 * The bucket of a period at `now` (UTC): `day=2026-12-03`, `month=2026-12` or `total`.
 *
 * @example
 * ```ts
 * periodBucket('day', Date.UTC(2026, 11, 3, 23, 59)); // 'day=2026-12-03'
 * ```
 */
export function periodBucket(period: 'day' | 'month' | 'total', now: number): string {
  if (period === 'total') return 'total';
  const iso = new Date(now).toISOString();
  return period === 'day' ? `day=${iso.slice(0, 10)}` : `month=${iso.slice(0, 7)}`;
}

/**
 * The ledger key of a rule for a subject at `now` (`period` omitted: a concurrency line, no bucket).
 * Values are URI-encoded, so a tenant named `a|b` cannot collide with another key.
 *
 * @example
 * ```ts
 * ledgerKey('cost', 'acme-daily', 'tenant', { tenant: 'acme' }, 'day', Date.UTC(2026, 11, 3)); // 'cost|acme-daily|tenant=acme|day=2026-12-03'
 * ```
 */
export function ledgerKey(
  kind: 'cost' | 'runs' | 'calls' | 'tokens' | 'conc',
  rule: string,
  per: 'tenant' | 'user' | 'project' | 'global',
  subject: BudgetSubject,
  period: 'day' | 'month' | 'total' | undefined,
  now: number,
): string {
  const scope = per === 'global' ? 'global' : `${per}=${encodeURIComponent(subject[per] ?? '')}`;
  const base = `${kind}|${encodeURIComponent(rule)}|${scope}`;
  return period === undefined ? base : `${base}|${periodBucket(period, now)}`;
}
