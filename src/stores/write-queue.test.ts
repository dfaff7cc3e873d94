import { describe, expect, it } from 'vitest';
import { StoreError, isStoreError, isValidationError } from '../errors.ts';
import { createWriteQueue } from './write-queue.ts';

/** A manual scheduler: flushes run only when the test says so. */
function manual(): { schedule: (f: () => void) => void; run: () => void; readonly waiting: number } {
  const fs: (() => void)[] = [];
  return {
    schedule: (f) => void fs.push(f),
    run: () => { for (const f of fs.splice(0)) f(); },
    get waiting() { return fs.length; },
  };
}

/** An async commit the test settles by hand. */
function gate(): { commit: (b: readonly string[]) => Promise<void>; batches: string[][]; open: (e?: unknown) => void } {
  const batches: string[][] = [];
  const waiters: ((e?: unknown) => void)[] = [];
  return {
    batches,
    commit: (b) => {
      batches.push([...b]);
      return new Promise<void>((resolve, reject) => waiters.push((e) => (e === undefined ? resolve() : reject(e))));
    },
    open: (e) => waiters.shift()?.(e),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('createWriteQueue', () => {
  it('commits every write pushed in one tick as one batch, in order, and settles each with it', async () => {
    const batches: string[][] = [];
    const q = createWriteQueue<string>({ commit: (b) => void batches.push([...b]) });
    const done = Promise.all(['a', 'b', 'c'].map((w) => q.push(w)));
    expect(batches).toEqual([]);
    await done;
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(q.pending).toBe(0);
  });

  it('writes pushed while a commit is in flight ride in the next batch', async () => {
    const s = manual();
    const g = gate();
    const q = createWriteQueue<string>({ commit: g.commit, schedule: s.schedule });
    const settled: string[] = [];
    const p1 = q.push('a').then(() => settled.push('a'));
    s.run();
    await tick();
    expect(g.batches).toEqual([['a']]);
    const p2 = q.push('b').then(() => settled.push('b'));
    const p3 = q.push('c').then(() => settled.push('c'));
    expect(q.pending).toBe(3);
    await tick();
    expect(g.batches).toEqual([['a']]); // b and c wait for the commit in flight
    g.open();
    await p1;
    await tick();
    expect(g.batches).toEqual([['a'], ['b', 'c']]);
    expect(settled).toEqual(['a']);
    g.open();
    await Promise.all([p2, p3]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('splits at maxBatch', async () => {
    const batches: number[][] = [];
    const q = createWriteQueue<number>({ commit: (b) => void batches.push([...b]), maxBatch: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((w) => q.push(w)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('a failed batch is re-run one write at a time: only the bad write rejects, with its own error', async () => {
    const committed: string[] = [];
    const calls: string[][] = [];
    const q = createWriteQueue<string>({
      commit: (b) => {
        calls.push([...b]);
        if (b.includes('bad')) throw new StoreError('SEQ_CONFLICT', 'seq taken');
        committed.push(...b);
      },
    });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((w) => q.push(w)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const reason = (results[1] as PromiseRejectedResult).reason;
    expect(isStoreError(reason) && reason.code).toBe('SEQ_CONFLICT');
    expect(calls).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
    expect(committed).toEqual(['a', 'c']);
  });

  it('isolate: false fails the whole batch at once', async () => {
    let calls = 0;
    const q = createWriteQueue<string>({
      commit: () => { calls++; throw new StoreError('STORE_UNAVAILABLE', 'gone'); },
      isolate: (e) => !(isStoreError(e) && e.code === 'STORE_UNAVAILABLE'),
    });
    const results = await Promise.allSettled(['a', 'b'].map((w) => q.push(w)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
  });

  it('an async commit that rejects settles its writes; the queue keeps working', async () => {
    let fail = true;
    const q = createWriteQueue<string>({ commit: async () => { if (fail) throw new Error('boom'); } });
    await expect(q.push('a')).rejects.toThrow('boom');
    fail = false;
    await expect(q.push('b')).resolves.toBeUndefined();
  });

  it('flush() commits at once without waiting for the schedule; close() flushes then refuses writes', async () => {
    const s = manual();
    const batches: string[][] = [];
    const q = createWriteQueue<string>({ commit: (b) => void batches.push([...b]), schedule: s.schedule });
    const p = q.push('a');
    expect(s.waiting).toBe(1);
    await q.flush();
    await p;
    expect(batches).toEqual([['a']]);
    const p2 = q.push('b');
    await q.close();
    await p2;
    expect(batches).toEqual([['a'], ['b']]);
    expect(q.closed).toBe(true);
    const e: unknown = await q.push('c').catch((x: unknown) => x);
    expect(isStoreError(e) && e.code).toBe('STORE_CLOSED');
    s.run(); // a late scheduled flush finds nothing to do
    await tick();
    expect(batches).toEqual([['a'], ['b']]);
  });

  it('concurrency: several commits in flight, never two holding the same key; a key\'s writes commit in order', async () => {
    const s = manual();
    const g = gate();
    // Writes are "run:n"; the key is the run.
    const q = createWriteQueue<string>({ commit: g.commit, schedule: s.schedule, concurrency: 2, keys: (w) => [w.split(':')[0]!] });
    const settled: string[] = [];
    const push = (w: string): Promise<number> => q.push(w).then(() => settled.push(w));
    const a1 = push('a:1');
    s.run();
    await tick();
    expect(g.batches).toEqual([['a:1']]);
    // b:1 is free, a:2 waits for a:1, and c:1 (queued after a:2) waits behind it.
    const rest = [push('b:1'), push('a:2'), push('c:1')];
    s.run();
    await tick();
    expect(g.batches).toEqual([['a:1'], ['b:1']]);
    expect(q.pending).toBe(4);
    g.open(); // a:1 commits: a:2 and c:1 go, with b:1 still in flight
    await a1;
    await tick();
    expect(g.batches).toEqual([['a:1'], ['b:1'], ['a:2', 'c:1']]);
    g.open();
    g.open();
    await Promise.all(rest);
    expect(settled).toEqual(['a:1', 'b:1', 'a:2', 'c:1']);
    expect(q.pending).toBe(0);
    await q.flush();
  });

  it('concurrency: what is queued is shared among the free commits (at least 64 writes each), up to maxBatch', async () => {
    const s = manual();
    const g = gate();
    const q = createWriteQueue<string>({ commit: g.commit, schedule: s.schedule, concurrency: 3, keys: (w) => [w], maxBatch: 80 });
    const writes = Array.from({ length: 300 }, (_, i) => q.push(`w${i}`));
    s.run();
    await tick();
    // 300 writes, 3 free commits: 100 each, but at most maxBatch (80); the rest waits for a free commit.
    expect(g.batches.map((b) => b.length)).toEqual([80, 80, 80]);
    g.open();
    await tick();
    expect(g.batches.map((b) => b.length)).toEqual([80, 80, 80, 60]);
    g.open();
    g.open();
    g.open();
    await Promise.all(writes);
    expect(g.batches.flat()).toEqual(Array.from({ length: 300 }, (_, i) => `w${i}`));
    // A few writes are not split below 64 per commit.
    const few = Array.from({ length: 100 }, (_, i) => q.push(`x${i}`));
    s.run();
    await tick();
    expect(g.batches.slice(4).map((b) => b.length)).toEqual([64, 36]);
    g.open();
    g.open();
    await Promise.all(few);
  });

  it('concurrency: a failed batch isolates its own writes while another commit is in flight', async () => {
    const s = manual();
    const batches: string[][] = [];
    let release: (() => void) | undefined;
    const q = createWriteQueue<string>({
      schedule: s.schedule, concurrency: 2, keys: (w) => [w],
      commit: (b) => {
        batches.push([...b]);
        if (b.includes('slow')) return new Promise<void>((r) => (release = r));
        if (b.includes('bad')) throw new StoreError('SEQ_CONFLICT', 'bad');
        return undefined;
      },
    });
    const slow = q.push('slow');
    s.run();
    await tick();
    const good = q.push('good');
    const bad = q.push('bad').catch((e: unknown) => e);
    s.run();
    await good;
    const e = await bad;
    expect(isStoreError(e) && e.code).toBe('SEQ_CONFLICT');
    expect(batches).toEqual([['slow'], ['good', 'bad'], ['good'], ['bad']]);
    release!();
    await slow;
    await q.close();
    expect(q.pending).toBe(0);
  });

  it('concurrency above 1 without keys is refused, naming keys', () => {
    try {
      createWriteQueue<string>({ commit: () => undefined, concurrency: 2 });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toEqual(['options', 'keys']);
    }
  });

  it('flush() on an idle queue resolves at once', async () => {
    const q = createWriteQueue<string>({ commit: () => undefined });
    await expect(q.flush()).resolves.toBeUndefined();
  });

  it('rejects invalid options naming the field', () => {
    try {
      createWriteQueue<string>({ commit: () => undefined, maxBatch: 0 });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toEqual(['options', 'maxBatch']);
    }
  });
});
