import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedMap, BoundedSet, RunCache, modelOf, runInfoOf, type RunInfo } from './join.ts';

const info = (runId: string, variant = ''): RunInfo => ({
  runId, topology: 't', variant, policyVersion: 0, models: {}, arms: {}, costUsd: 0, tenant: null, user: null, endedAt: 0,
});

describe('RunCache', () => {
  it('finds the runs still remembered, the latest entry of an id added twice; forgets the oldest past capacity', () => {
    const c = new RunCache(3);
    c.add(info('a', '1'));
    c.add(info('b'));
    expect(c.get('a')?.variant).toBe('1');
    c.add(info('a', '2'));
    c.add(info('d'));
    expect([c.get('a')?.variant, c.get('b'), c.get('d')?.runId, c.size]).toEqual(['2', info('b'), 'd', 3]);
    c.add(info('e'));
    expect([c.get('b'), c.get('a')?.variant]).toEqual([undefined, '2']);
    c.add(info('f'));
    expect(c.get('a')).toBeUndefined();
    expect(c.get('x')).toBeUndefined();
  });

  it('answers as a bounded map would, whatever the order of adds and lookups (the index never outgrows the ring)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })), { maxLength: 200 }), (cap, ops) => {
      const c = new RunCache(cap);
      const added: string[] = [];
      const variant = new Map<string, number>();
      ops.forEach(([isAdd, k], i) => {
        const id = `r${k}`;
        if (isAdd) {
          c.add(info(id, String(i)));
          added.push(id);
          variant.set(`${added.length - 1}`, i);
          return;
        }
        // the model: the latest entry of the id among the last `cap` added
        const window = added.slice(-cap);
        const at = window.lastIndexOf(id);
        const want = at === -1 ? undefined : String(variant.get(`${added.length - window.length + at}`));
        expect(c.get(id)?.variant).toBe(want);
      });
    }));
  });

  it('remembers the last `capacity` runs over many adds with lookups between them', () => {
    const c = new RunCache(100);
    for (let i = 0; i < 10_000; i++) {
      c.add(info(`r${i}`));
      if (i % 7 === 0) c.get(`r${i - 3}`);
    }
    expect(c.size).toBe(100);
    expect(c.get('r9899')).toBeUndefined();
    expect(c.get('r9900')?.runId).toBe('r9900');
  });
});


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
