// Roles per topology pattern (the longest matching pattern wins), what each role may do, and what
// a key may grant: never more than it holds, on any topology its pattern covers.
import { describe, expect, it } from 'vitest';
import { ACTION_ROLE, can, grantIssues, roleOn, RolesSchema, type Principal, type Roles } from './access.ts';

const p = (roles: Roles): Principal => ({ keyId: 'k', tenant: 't', roles });

describe('roleOn', () => {
  it('takes the longest matching pattern', () => {
    const who = p({ '*': 'viewer', 'rag*': 'operator', 'rag-prod': 'admin' });
    expect(roleOn(who, 'rag-prod')).toBe('admin');
    expect(roleOn(who, 'rag-dev')).toBe('operator');
    expect(roleOn(who, 'summarize')).toBe('viewer');
  });

  it('has no role where no pattern matches, and treats regex characters literally', () => {
    const who = p({ 'a.b': 'admin', 'x+': 'viewer' });
    expect(roleOn(who, 'a.b')).toBe('admin');
    expect(roleOn(who, 'aXb')).toBeUndefined();
    expect(roleOn(who, 'xx')).toBeUndefined();
  });
});

describe('can', () => {
  it('lets each role do its actions and the weaker roles\' ones', () => {
    const cases: [Roles, string, boolean][] = [
      [{ rag: 'viewer' }, 'runs.read', true],
      [{ rag: 'viewer' }, 'runs.start', false],
      [{ rag: 'operator' }, 'runs.start', true],
      [{ rag: 'operator' }, 'runs.cancel', true],
      [{ rag: 'operator' }, 'keys.manage', false],
      [{ rag: 'admin' }, 'runs.fork', true],
    ];
    for (const [roles, action, allowed] of cases) expect(can(p(roles), action as keyof typeof ACTION_ROLE, 'rag')).toBe(allowed);
    expect(can(p({ other: 'admin' }), 'runs.read', 'rag')).toBe(false);
  });

  it('counts the best role over all patterns for tenant-wide actions', () => {
    expect(can(p({ '*': 'viewer', rag: 'admin' }), 'keys.manage', '*')).toBe(true);
    expect(can(p({ '*': 'operator' }), 'keys.manage', '*')).toBe(false);
  });
});

describe('grantIssues', () => {
  it('lets a key grant what it holds', () => {
    expect(grantIssues(p({ '*': 'admin' }), { '*': 'admin', rag: 'viewer' })).toEqual([]);
    expect(grantIssues(p({ 'rag*': 'admin' }), { 'rag-dev': 'operator' })).toEqual([]);
  });

  it('refuses more than the key holds, naming the pattern', () => {
    expect(grantIssues(p({ rag: 'admin' }), { '*': 'viewer' })).toEqual([expect.objectContaining({ path: ['roles', '*'] })]);
    expect(grantIssues(p({ '*': 'operator', rag: 'admin' }), { '*': 'admin' })).toEqual([expect.objectContaining({ path: ['roles', '*'], message: expect.stringContaining('operator') })]);
  });

  it('refuses a pattern covering a topology where the key holds less', () => {
    expect(grantIssues(p({ '*': 'admin', billing: 'viewer' }), { '*': 'operator' })).toEqual([expect.objectContaining({ path: ['roles', '*'], message: expect.stringContaining('billing') })]);
    expect(grantIssues(p({ '*': 'admin', billing: 'viewer' }), { billing: 'viewer', rag: 'admin' })).toEqual([]);
  });
});

describe('RolesSchema', () => {
  it('needs a pattern and a known role', () => {
    expect(RolesSchema.safeParse({}).success).toBe(false);
    expect(RolesSchema.safeParse({ '*': 'root' }).success).toBe(false);
    expect(RolesSchema.parse({ '*': 'viewer' })).toEqual({ '*': 'viewer' });
  });
});
