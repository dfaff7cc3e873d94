/**
 * Budget rules: documents in YAML and JSON, validation errors naming each bad field, guard
 * options validation, patterns, and period keys (a new day or month starts a fresh bucket).
 */
import { describe, expect, it } from 'vitest';
import { isValidationError, type ValidationError } from '../../errors.ts';
import { createBudgetGuard } from './guard.ts';
import { ledgerKey, periodBucket } from './keys.ts';
import { createMemoryLedger } from './memory.ts';
import { matchesPattern, parseBudgetRules } from './rules.ts';

const issuesOf = (f: () => unknown): ValidationError['issues'] => {
  try {
    f();
  } catch (e) {
    if (isValidationError(e)) return e.issues;
    throw e;
  }
  throw new Error('expected a ValidationError');
};

describe('parseBudgetRules', () => {
  it('reads YAML and JSON documents', () => {
    const yaml = `
budgets:
  - name: acme-daily
    per: tenant
    period: day
    limitUsd: 50
    match: { tenant: acme, model: 'openai:*' }
    onExceeded: { route: 'openai:gpt-4o-mini' }
quotas:
  - { name: runs, per: user, period: month, runs: 1000 }
concurrency:
  - { name: parallel, per: tenant, max: 4 }
reservationTtlMs: 60000
`;
    const r = parseBudgetRules(yaml);
    expect(r.budgets?.[0]).toMatchObject({ name: 'acme-daily', limitUsd: 50, onExceeded: { route: 'openai:gpt-4o-mini' } });
    expect(parseBudgetRules(JSON.stringify(r))).toEqual(r);
    expect(parseBudgetRules('')).toEqual({});
  });

  it('names the path of each bad field', () => {
    const issues = issuesOf(() => parseBudgetRules({
      budgets: [{ name: 'a', per: 'tenant', period: 'week', limitUsd: -1, onExceeded: { route: 'nocolon' } }],
      quotas: [{ name: 'q', per: 'tenant', period: 'day', runs: 1, calls: 2 }, { name: 'a', per: 'global', period: 'day', tokens: 5 }],
      concurrency: [{ name: 'c', per: 'global', max: 0 }],
      extra: true,
    }));
    const paths = issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining([
      'budgets.0.period', 'budgets.0.limitUsd', 'budgets.0.onExceeded.route', 'quotas.0', 'concurrency.0.per', 'concurrency.0.max', '',
    ]));
    // duplicate names are checked once the lists themselves are valid
    expect(issuesOf(() => parseBudgetRules({ budgets: [{ name: 'a', per: 'global', period: 'day', limitUsd: 1 }], quotas: [{ name: 'a', per: 'global', period: 'day', runs: 1 }] }))
      .map((i) => i.path.join('.'))).toEqual(['quotas.0.name']);
    expect(issuesOf(() => parseBudgetRules('budgets: [\n'))[0]?.code).toBe('invalid_syntax');
  });

  it('guard options are validated with their fields named', () => {
    expect(issuesOf(() => createBudgetGuard({ ledger: {} as never })).map((i) => i.path.join('.'))).toEqual(['options.ledger']);
    expect(issuesOf(() => createBudgetGuard({ ledger: createMemoryLedger(), budgets: [{ name: 'x', per: 'tenant', period: 'day', limitUsd: Number.NaN }] }))
      .map((i) => i.path.join('.'))).toEqual(['options.budgets.0.limitUsd']);
    expect(issuesOf(() => createBudgetGuard({ ledger: createMemoryLedger(), extendAt: 2 })).map((i) => i.path.join('.'))).toEqual(['options.extendAt']);
  });
});

describe('keys and patterns', () => {
  it('period buckets roll over at UTC midnight and month ends', () => {
    expect(periodBucket('day', Date.UTC(2026, 11, 3, 23, 59, 59, 999))).toBe('day=2026-12-03');
    expect(periodBucket('day', Date.UTC(2026, 11, 4))).toBe('day=2026-12-04');
    expect(periodBucket('month', Date.UTC(2026, 11, 31, 23))).toBe('month=2026-12');
    expect(periodBucket('month', Date.UTC(2027, 0, 1))).toBe('month=2027-01');
    expect(periodBucket('total', 0)).toBe('total');
  });

  it('keys encode the subject so names cannot collide', () => {
    expect(ledgerKey('cost', 'daily', 'tenant', { tenant: 'a|b' }, 'day', Date.UTC(2026, 11, 3))).toBe('cost|daily|tenant=a%7Cb|day=2026-12-03');
    expect(ledgerKey('conc', 'p', 'user', {}, undefined, 0)).toBe('conc|p|user=');
    expect(ledgerKey('runs', 'r', 'global', { tenant: 'x' }, 'total', 0)).toBe('runs|r|global|total');
  });

  it('patterns: values, globs and lists', () => {
    expect(matchesPattern(undefined, undefined)).toBe(true);
    expect(matchesPattern('acme', undefined)).toBe(false);
    expect(matchesPattern('openai:*', 'openai:gpt-4o')).toBe(true);
    expect(matchesPattern(['a', 'b.*'], 'b.c')).toBe(true);
    expect(matchesPattern('a.c', 'abc')).toBe(false);
  });
});
