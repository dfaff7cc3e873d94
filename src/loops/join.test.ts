import { describe, expect, it } from 'vitest';
import { BoundedMap, BoundedSet, modelOf, runInfoOf } from './join.ts';

describe('BoundedMap', () => {
  it('evicts the oldest inserted key past capacity; a key set again keeps its place', () => {
    const m = new BoundedMap<string, number>(3);
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.set('a', 10);
    m.set('d', 4);
    expect([m.has('a'), m.has('b'), m.has('c'), m.has('d')]).toEqual([false, true, true, true]);
    m.set('e', 5);
    m.set('f', 6);
    expect([m.get('d'), m.get('e'), m.get('f'), m.size]).toEqual([4, 5, 6, 3]);
  });

  it('keeps its bound over many insertions', () => {
    const m = new BoundedMap<number, number>(100);
    for (let i = 0; i < 10_000; i++) m.set(i, i);
    expect(m.size).toBe(100);
    expect(m.has(9_899)).toBe(false);
    expect(m.get(9_900)).toBe(9_900);
  });
});

describe('BoundedSet', () => {
  it('add says whether the member is new', () => {
    const s = new BoundedSet<string>(2);
    expect([s.add('x'), s.add('x'), s.add('y'), s.add('z'), s.has('x')]).toEqual([true, false, true, true, false]);
  });
});

describe('run info', () => {
  const base = {
    runId: 'r', topology: 't', version: 'v', status: 'completed' as const, input: { q: 1 }, output: 'o', startedAt: 0, endedAt: 5,
    models: { a: 'sim:a', b: 'sim:b' }, tenant: 'acme', user: undefined,
  };

  it('keeps the decision, models, cost and who; the input only for bandit runs', () => {
    const plainRun = runInfoOf({ ...base, decision: { variant: 'b', policyVersion: 2 } });
    expect(plainRun).toEqual({ runId: 'r', topology: 't', variant: 'b', policyVersion: 2, models: base.models, arms: {}, costUsd: 0, tenant: 'acme', user: null, endedAt: 5 });
    expect(runInfoOf({ ...base, decision: { arms: { a: 'x' } } }).input).toEqual({ q: 1 });
  });

  it('the model of a score: the node\'s, else the only one, else none', () => {
    const info = runInfoOf({ ...base, decision: undefined });
    expect([modelOf(info, 'b'), modelOf(info, 'zz'), modelOf(info, null)]).toEqual(['sim:b', '', '']);
    expect(modelOf({ ...info, models: { a: 'sim:a' } }, undefined)).toBe('sim:a');
  });
});
