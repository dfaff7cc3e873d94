import { describe, expect, it } from 'vitest';
import { BoundedMemo } from './memo.ts';

describe('BoundedMemo', () => {
  it('remembers answers, returns what it set, and forgets the oldest past its capacity', () => {
    const memo = new BoundedMemo<string, boolean>(2);
    expect(memo.set('a', false)).toBe(false);
    expect(memo.get('a')).toBe(false);
    memo.set('b', true);
    memo.set('a', true); // an update does not evict
    expect(memo.size).toBe(2);
    memo.set('c', true);
    expect(memo.get('a')).toBeUndefined();
    expect([memo.get('b'), memo.get('c'), memo.size]).toEqual([true, true, 2]);
    memo.clear();
    expect(memo.size).toBe(0);
  });
  it('keeps one entry at least', () => {
    const memo = new BoundedMemo<number, number>(0);
    memo.set(1, 1);
    memo.set(2, 2);
    expect([memo.get(1), memo.get(2)]).toEqual([undefined, 2]);
  });
});
