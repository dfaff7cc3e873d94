import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Limiter, type Level } from './limiter.ts';

/** A limiter whose grants are recorded (and optionally released at once). */
function recording<T>(capacity: number, options: { agingGrants?: number; maxQueue?: number; releaseOnGrant?: boolean } = {}) {
  const granted: T[] = [];
  const { releaseOnGrant = false, ...limiterOptions } = options;
  const limiter: Limiter<T> = new Limiter<T>(
    capacity,
    (item) => {
      granted.push(item);
      if (releaseOnGrant) limiter.release();
    },
    limiterOptions,
  );
  return { limiter, granted };
}

describe('Limiter', () => {
  it('grants up to capacity, then queues', () => {
    const { limiter, granted } = recording<string>(2);
    expect(limiter.submit('a', 1)).toBe('granted');
    expect(limiter.submit('b', 1)).toBe('granted');
    expect(limiter.active).toBe(2);
    expect(limiter.submit('c', 1)).toBe('queued');
    expect(limiter.submit('d', 0)).toBe('queued');
    expect(limiter.active).toBe(2);
    expect(limiter.queued).toBe(2);
    expect(granted).toEqual([]); // immediate grants are not called back: the caller proceeds itself
    expect(limiter.capacity).toBe(2);
  });

  it("returns 'full' once maxQueue waiters are held, and accepts again after a grant", () => {
    const { limiter, granted } = recording<string>(1, { maxQueue: 2 });
    expect(limiter.submit('a', 1)).toBe('granted');
    expect(limiter.submit('b', 1)).toBe('queued');
    expect(limiter.submit('c', 0)).toBe('queued');
    expect(limiter.submit('d', 0)).toBe('full');
    expect(limiter.queued).toBe(2);
    limiter.release();
    expect(granted).toEqual(['c']);
    expect(limiter.submit('e', 2)).toBe('queued');
    expect(limiter.submit('f', 2)).toBe('full');
  });

  it('maxQueue 0 never queues', () => {
    const { limiter } = recording<string>(1, { maxQueue: 0 });
    expect(limiter.submit('a', 1)).toBe('granted');
    expect(limiter.submit('b', 0)).toBe('full');
  });

  it('release without waiters just frees the slot', () => {
    const { limiter, granted } = recording<string>(1);
    limiter.submit('a', 1);
    limiter.release();
    expect(limiter.active).toBe(0);
    expect(granted).toEqual([]);
    expect(limiter.submit('b', 1)).toBe('granted');
  });

  it('an infinite capacity always grants', () => {
    const { limiter } = recording<number>(Infinity);
    for (let i = 0; i < 1000; i++) expect(limiter.submit(i, 2)).toBe('granted');
    expect(limiter.active).toBe(1000);
  });

  it('releases by priority: high, then normal, then low; FIFO within a level', () => {
    const { limiter, granted } = recording<string>(1, { agingGrants: 1000 });
    limiter.submit('busy', 1);
    const waiting: [string, Level][] = [['l1', 2], ['n1', 1], ['h1', 0], ['l2', 2], ['h2', 0], ['n2', 1]];
    for (const [item, level] of waiting) expect(limiter.submit(item, level)).toBe('queued');
    for (let i = 0; i < waiting.length; i++) limiter.release();
    expect(granted).toEqual(['h1', 'h2', 'n1', 'n2', 'l1', 'l2']);
    expect(limiter.active).toBe(1);
    expect(limiter.queued).toBe(0);
  });

  it('a release fills every free slot (capacity > 1)', () => {
    const { limiter, granted } = recording<string>(3);
    limiter.submit('a', 1);
    limiter.submit('b', 1);
    limiter.submit('c', 1);
    limiter.submit('d', 1);
    limiter.submit('e', 1);
    limiter.release();
    expect(granted).toEqual(['d']);
    expect(limiter.active).toBe(3);
  });

  it('new submits do not overtake waiters while a slot is being handed over', () => {
    const order: string[] = [];
    const limiter: Limiter<string> = new Limiter<string>(1, (item) => {
      order.push(item);
      if (item === 'w1') {
        // The grant finishes at once and someone else immediately asks for a slot.
        limiter.release();
        expect(limiter.submit('late', 0)).toBe('queued');
      }
    });
    limiter.submit('busy', 1);
    limiter.submit('w1', 1);
    limiter.submit('w2', 1);
    limiter.release();
    expect(order).toEqual(['w1', 'late']); // 'late' is high priority, so it goes before w2, but through the queue
    limiter.release();
    expect(order).toEqual(['w1', 'late', 'w2']);
  });

  describe('aging', () => {
    it('serves a low waiter after agingGrants grants, even while high waiters keep arriving', () => {
      const { limiter, granted } = recording<string>(1, { agingGrants: 3 });
      limiter.submit('busy', 1);
      limiter.submit('low', 2);
      let h = 0;
      limiter.submit(`h${h++}`, 0);
      for (let i = 0; i < 6; i++) {
        limiter.submit(`h${h++}`, 0); // a new high waiter before every release
        limiter.release();
      }
      // 'low' was passed over by h0, h1, h2 (three grants) and is served fourth.
      expect(granted).toEqual(['h0', 'h1', 'h2', 'low', 'h3', 'h4']);
    });

    it('defaults to 16 grants', () => {
      const { limiter, granted } = recording<string>(1);
      limiter.submit('busy', 1);
      limiter.submit('low', 2);
      for (let i = 0; i < 20; i++) limiter.submit(`h${i}`, 0);
      for (let i = 0; i < 21; i++) limiter.release();
      expect(granted.indexOf('low')).toBe(16);
    });

    it('ages normal waiters past high ones too', () => {
      const { limiter, granted } = recording<string>(1, { agingGrants: 2 });
      limiter.submit('busy', 1);
      limiter.submit('n', 1);
      for (let i = 0; i < 5; i++) limiter.submit(`h${i}`, 0);
      for (let i = 0; i < 6; i++) limiter.release();
      expect(granted).toEqual(['h0', 'h1', 'n', 'h2', 'h3', 'h4']);
    });

    it('among aged waiters the oldest goes first', () => {
      const { limiter, granted } = recording<string>(1, { agingGrants: 2 });
      limiter.submit('busy', 1);
      limiter.submit('low', 2); // enqueued at tick 0
      limiter.submit('h0', 0);
      limiter.release(); // grants h0 (tick 1)
      limiter.submit('normal', 1); // enqueued at tick 1
      for (let i = 1; i < 5; i++) limiter.submit(`h${i}`, 0);
      for (let i = 0; i < 6; i++) limiter.release();
      // tick 1: low age 1 → h1; tick 2: low aged → low; tick 3: normal aged → normal.
      expect(granted).toEqual(['h0', 'h1', 'low', 'normal', 'h2', 'h3', 'h4']);
    });

    it('agingGrants 0: normal and low waiters are always aged, so they go oldest-first ahead of high', () => {
      const { limiter, granted } = recording<string>(1, { agingGrants: 0 });
      limiter.submit('busy', 1);
      limiter.submit('l', 2);
      limiter.submit('n', 1);
      limiter.submit('h', 0);
      for (let i = 0; i < 3; i++) limiter.release();
      expect(granted).toEqual(['l', 'n', 'h']);
    });
  });

  describe('re-entrant release (trampolining)', () => {
    it('10,000 waiters each released synchronously inside grant do not grow the stack', () => {
      let depth = 0;
      let maxDepth = 0;
      const granted: number[] = [];
      const limiter: Limiter<number> = new Limiter<number>(1, (n) => {
        depth++;
        maxDepth = Math.max(maxDepth, depth);
        granted.push(n);
        limiter.release();
        depth--;
      });
      expect(limiter.submit(-1, 1)).toBe('granted');
      for (let i = 0; i < 10_000; i++) expect(limiter.submit(i, 1)).toBe('queued');
      limiter.release();
      expect(granted).toHaveLength(10_000);
      expect(granted[0]).toBe(0);
      expect(granted[9_999]).toBe(9_999);
      expect(maxDepth).toBe(1);
      expect(limiter.active).toBe(0);
      expect(limiter.queued).toBe(0);
    });

    it('handles 200,000 synchronous waiters over mixed levels and keeps priority order', () => {
      const { limiter, granted } = recording<number>(2, { releaseOnGrant: true, agingGrants: 1_000_000 });
      limiter.submit(-1, 1);
      limiter.submit(-2, 1);
      for (let i = 0; i < 200_000; i++) limiter.submit(i, (i % 3) as Level);
      limiter.release();
      limiter.release();
      expect(granted).toHaveLength(200_000);
      const levels = granted.map((n) => n % 3);
      expect(levels.slice(0, 66_667).every((l) => l === 0)).toBe(true);
      expect(levels[levels.length - 1]).toBe(2);
      expect(limiter.active).toBe(0);
    });

    it('a grant that submits and releases inside the drain is served in the same drain', () => {
      const granted: string[] = [];
      const limiter: Limiter<string> = new Limiter<string>(1, (item) => {
        granted.push(item);
        if (item === 'a') limiter.submit('chained', 1);
        limiter.release();
      });
      limiter.submit('busy', 1);
      limiter.submit('a', 1);
      limiter.release();
      expect(granted).toEqual(['a', 'chained']);
      expect(limiter.active).toBe(0);
    });
  });

  describe('remove', () => {
    it('takes a queued item out at any level; a removed item is never granted', () => {
      const { limiter, granted } = recording<string>(1, { agingGrants: 1000 });
      limiter.submit('busy', 1);
      limiter.submit('h', 0);
      limiter.submit('n', 1);
      limiter.submit('l', 2);
      expect(limiter.remove('n')).toBe(true);
      expect(limiter.remove('n')).toBe(false);
      expect(limiter.remove('busy')).toBe(false); // holds a slot, not a place in the queue
      expect(limiter.queued).toBe(2);
      limiter.release();
      limiter.release();
      limiter.release();
      expect(granted).toEqual(['h', 'l']);
      expect(limiter.active).toBe(0);
    });

    it('frees a place under maxQueue', () => {
      const { limiter } = recording<string>(1, { maxQueue: 1 });
      limiter.submit('a', 1);
      limiter.submit('b', 1);
      expect(limiter.submit('c', 1)).toBe('full');
      limiter.remove('b');
      expect(limiter.submit('c', 1)).toBe('queued');
    });

    it('keeps the order and the aging of the others', () => {
      const { limiter, granted } = recording<string>(1, { agingGrants: 2 });
      limiter.submit('busy', 1);
      limiter.submit('low', 2);
      for (let i = 0; i < 4; i++) limiter.submit(`h${i}`, 0);
      limiter.remove('h1');
      for (let i = 0; i < 4; i++) limiter.release();
      expect(granted).toEqual(['h0', 'h2', 'low', 'h3']);
    });
  });

  describe('awaitable form (acquire)', () => {
    const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

    it("'granted' while a slot is free, then promises resolved in order as slots are released", async () => {
      const slots = Limiter.awaitable(2);
      expect(slots.acquire(1)).toBe('granted');
      expect(slots.acquire(1)).toBe('granted');
      const order: string[] = [];
      const a = slots.acquire(1) as Promise<void>;
      const b = slots.acquire(1) as Promise<void>;
      void a.then(() => order.push('a'));
      void b.then(() => order.push('b'));
      expect(slots.queued).toBe(2);
      await flush();
      expect(order).toEqual([]);
      slots.release();
      await flush();
      expect(order).toEqual(['a']);
      expect(slots.active).toBe(2); // the slot passed straight to 'a'
      slots.release();
      await flush();
      expect(order).toEqual(['a', 'b']);
      slots.release();
      slots.release();
      expect(slots.active).toBe(0);
    });

    it('serves by priority like submit', async () => {
      const slots = Limiter.awaitable(1, { agingGrants: 1000 });
      slots.acquire(1);
      const order: string[] = [];
      for (const [name, level] of [['low', 2], ['normal', 1], ['high', 0]] as const) void (slots.acquire(level) as Promise<void>).then(() => order.push(name));
      for (let i = 0; i < 3; i++) {
        slots.release();
        await flush();
      }
      expect(order).toEqual(['high', 'normal', 'low']);
    });

    it("'full' beyond maxQueue, and nothing is queued", () => {
      const slots = Limiter.awaitable(1, { maxQueue: 1 });
      expect(slots.acquire()).toBe('granted');
      expect(slots.acquire()).toBeInstanceOf(Promise);
      expect(slots.acquire()).toBe('full');
      expect(slots.queued).toBe(1);
    });

    it('an abort while waiting rejects with the reason and leaves the queue at once', async () => {
      const slots = Limiter.awaitable(1, { maxQueue: 1 });
      slots.acquire();
      const ctl = new AbortController();
      const waiting = slots.acquire(1, ctl.signal) as Promise<void>;
      expect(slots.acquire()).toBe('full');
      const reason = new Error('gave up');
      ctl.abort(reason);
      expect(slots.queued).toBe(0); // synchronously, not at the next release
      await expect(waiting).rejects.toBe(reason);
      const next = slots.acquire() as Promise<void>;
      slots.release();
      await next; // the freed slot went to the next waiter, not to the aborted one
      expect(slots.active).toBe(1);
    });

    it('an already aborted signal is refused when it would have to wait, but takes a free slot', async () => {
      const slots = Limiter.awaitable(1);
      const ctl = new AbortController();
      ctl.abort(new Error('before'));
      expect(slots.acquire(1, ctl.signal)).toBe('granted');
      await expect(slots.acquire(1, ctl.signal)).rejects.toThrow('before');
      expect(slots.queued).toBe(0);
    });

    it('an abort after the grant changes nothing', async () => {
      const slots = Limiter.awaitable(1);
      slots.acquire();
      const ctl = new AbortController();
      const waiting = slots.acquire(1, ctl.signal) as Promise<void>;
      expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
      slots.release();
      await waiting;
      expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
      ctl.abort();
      await flush();
      expect(slots.active).toBe(1);
      slots.release();
      expect(slots.active).toBe(0);
    });
  });
});
