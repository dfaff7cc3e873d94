import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue.ts';
import { Limiter } from './limiter.ts';

/** A full garbage collection (the test process has no --expose-gc flag; V8 lends the function). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

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

describe('FairQueue.leave', () => {
  it('takes a waiter out by the place push answered; not twice, not once served, not from another queue', () => {
    const q = new FairQueue<string>();
    const other = new FairQueue<string>();
    const a = q.push('a', 0, 'A');
    const b = q.push('b', 0, 'B');
    const c = q.push('c', 0, 'A');
    expect([q.leave(a), q.leave(a), other.leave(c), q.size]).toEqual([true, false, false, 2]);
    expect(q.shift()).toBe('c'); // A kept its turn: its next waiter takes it
    expect(q.shift()).toBe('b');
    expect([q.leave(b), q.leave(c), q.size]).toEqual([false, false, 0]);
  });
});

describe('FairQueue with many flows', () => {
  it('serves 10,000 backlogged tenants round-robin: every first waiter before any second one', () => {
    const q = new FairQueue<string>();
    for (let k = 0; k < 10_000; k++) for (let j = 0; j < 2; j++) q.push(`t${k}.${j}`, 0, `t${k}`);
    const out = drain(q);
    expect(out.slice(0, 10_000).every((x) => x.endsWith('.0'))).toBe(true);
    expect(new Set(out).size).toBe(20_000);
  });

  it('keeps working after many waiters gave up (the heaps drop what they left)', () => {
    const q = new FairQueue<number>();
    q.push(-1, 0, 'stays');
    let removed = 0;
    for (let k = 0; k < 100_000; k++) {
      q.push(k, k, `t${k % 100}`);
      if (q.remove(k)) removed++;
    }
    expect([removed, q.size, q.peekTick(), q.shift(), q.size]).toEqual([100_000, 1, 0, -1, 0]);
  });

  it('keeps nothing of the waiters it served, even when nobody asks peekTick (the high priority lane)', async () => {
    const q = new FairQueue<object>((f) => (f === 'slow' ? 0.0001 : 1));
    const refs: WeakRef<object>[] = [];
    // a slow flow's second waiter stays at the head of the arrival order all along (its first, served, set its pass far ahead)
    q.push({}, 0, 'slow');
    q.push({}, 0, 'slow');
    q.shift();
    for (let k = 0; k < 20_000; k++) {
      const item = {};
      if (k % 1000 === 0) refs.push(new WeakRef(item));
      q.push(item, k + 1, `t${k % 3}`);
      expect(q.shift()).toBe(item);
    }
    expect(q.size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    collect();
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });

  it('property: FIFO per flow, each waiter served once unless removed, the oldest tick peeked, equal flows within one turn of each other', () => {
    type Op = { readonly op: 'push'; readonly flow: number; readonly tick: number } | { readonly op: 'shift' } | { readonly op: 'remove'; readonly pick: number };
    const ops = fc.array(fc.oneof(
      fc.record({ op: fc.constant('push' as const), flow: fc.integer({ min: 0, max: 5 }), tick: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ op: fc.constant('shift' as const) }),
      fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }),
    ), { maxLength: 200 });
    fc.assert(fc.property(ops, (list: Op[]) => {
      const q = new FairQueue<{ id: number; flow: number; tick: number }>();
      const waiting: { id: number; flow: number; tick: number }[] = [];
      const lastServed = new Map<number, number>();
      let id = 0;
      for (const o of list) {
        if (o.op === 'push') {
          const w = { id: id++, flow: o.flow, tick: o.tick };
          q.push(w, o.tick, `f${o.flow}`);
          waiting.push(w);
        } else if (o.op === 'remove') {
          if (waiting.length === 0) continue;
          const w = waiting.splice(o.pick % waiting.length, 1)[0]!;
          expect(q.remove(w)).toBe(true);
          expect(q.remove(w)).toBe(false);
        } else {
          if (waiting.length === 0) continue;
          expect(q.peekTick()).toBe(Math.min(...waiting.map((w) => w.tick)));
          const w = q.shift();
          const k = waiting.indexOf(w);
          expect(k).toBeGreaterThanOrEqual(0);
          waiting.splice(k, 1);
          // FIFO within a flow: nothing of its flow pushed before it is still waiting
          expect(waiting.some((x) => x.flow === w.flow && x.id < w.id)).toBe(false);
          expect(w.id).toBeGreaterThan(lastServed.get(w.flow) ?? -1);
          lastServed.set(w.flow, w.id);
        }
        expect(q.size).toBe(waiting.length);
      }
    }));
  });

  it('property: flows of equal weight, all backlogged, are served within one turn of each other', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 2, maxLength: 8 }), (lengths) => {
      const q = new FairQueue<number>();
      lengths.forEach((n, f) => { for (let k = 0; k < n; k++) q.push(f, 0, `f${f}`); });
      const served = lengths.map(() => 0);
      while (q.size > 0) {
        served[q.shift()]!++;
        const backlogged = served.filter((c, f) => c < lengths[f]!);
        if (backlogged.length > 1) expect(Math.max(...backlogged) - Math.min(...backlogged)).toBeLessThanOrEqual(1);
      }
    }));
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

describe('Limiter: many waiters giving up at once', () => {
  it('all leave (each in O(1): skipped where it stands), the counts stay exact, and the next waiter is served', async () => {
    const l = Limiter.awaitable(1);
    expect(l.acquire(1)).toBe('granted');
    const ctl = new AbortController();
    const waits = Array.from({ length: 5_000 }, (_, k) => l.acquire(k % 3 === 0 ? 2 : 1, ctl.signal) as Promise<void>);
    const stays = l.acquire(1) as Promise<void>;
    expect(l.queued).toBe(5_001);
    ctl.abort(new Error('gave up'));
    const settled = await Promise.allSettled(waits);
    expect(settled.every((r) => r.status === 'rejected')).toBe(true);
    expect(l.queued).toBe(1);
    l.release();
    await stays;
    expect([l.queued, l.active]).toEqual([0, 1]);
  });
});

