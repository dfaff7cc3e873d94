import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue.ts';
import { Limiter } from './limiter.ts';

const drain = <T>(q: FairQueue<T>): T[] => {
  const out: T[] = [];
  while (q.size > 0) out.push(q.shift());
  return out;
};

describe('FairQueue', () => {
  it('is FIFO with one flow (or none)', () => {
    const q = new FairQueue<number>();
    for (let k = 0; k < 5; k++) q.push(k, k);
    expect(drain(q)).toEqual([0, 1, 2, 3, 4]);
  });

  it('alternates between flows with equal weights, FIFO within each, whatever the arrival order', () => {
    const q = new FairQueue<string>();
    for (let k = 0; k < 4; k++) q.push(`a${k}`, 0, 'A');
    for (let k = 0; k < 2; k++) q.push(`b${k}`, 0, 'B');
    expect(drain(q)).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'a3']);
  });

  it('serves by weight: a flow of weight 3 gets three turns to one', () => {
    const q = new FairQueue<string>((f) => (f === 'gold' ? 3 : 1));
    for (let k = 0; k < 8; k++) q.push(`g${k}`, 0, 'gold');
    for (let k = 0; k < 8; k++) q.push(`s${k}`, 0, 'silver');
    const first8 = drain(q).slice(0, 8);
    expect(first8.filter((x) => x.startsWith('g'))).toHaveLength(6);
  });

  it('a flow that was idle gets no credit for it: it joins at the current virtual time', () => {
    const q = new FairQueue<string>();
    for (let k = 0; k < 6; k++) q.push(`a${k}`, 0, 'A');
    expect([q.shift(), q.shift(), q.shift()]).toEqual(['a0', 'a1', 'a2']);
    q.push('b0', 1, 'B');
    q.push('b1', 1, 'B');
    q.push('b2', 1, 'B');
    expect(drain(q)).toEqual(['b0', 'a3', 'b1', 'a4', 'b2', 'a5']); // not b0, b1, b2 first: no credit for A's head start
  });

  it('peekTick is the oldest waiter of any flow; remove finds an item in any flow', () => {
    const q = new FairQueue<string>();
    q.push('a', 5, 'A');
    q.push('b', 3, 'B');
    expect(q.peekTick()).toBe(3);
    expect(q.remove('b')).toBe(true);
    expect(q.remove('b')).toBe(false);
    expect(q.size).toBe(1);
    expect(q.peekTick()).toBe(5);
  });
});

describe('Limiter with flows', () => {
  it('grants waiters of one priority fairly between flows, priorities first', () => {
    const granted: string[] = [];
    const l = new Limiter<string>(1, (x) => granted.push(x));
    expect(l.submit('first', 1, 'A')).toBe('granted');
    for (let k = 0; k < 3; k++) l.submit(`a${k}`, 1, 'A');
    l.submit('b0', 1, 'B');
    l.submit('h', 0, 'A');
    for (let k = 0; k < 5; k++) l.release();
    expect(granted).toEqual(['h', 'a0', 'b0', 'a1', 'a2']);
  });
});
