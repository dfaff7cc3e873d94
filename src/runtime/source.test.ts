/**
 * `admit()`: pull-based admission from (async) iterables, bounded buffering of
 * Observables. Runs are driven by hand through a fake `launch` whose runs finish
 * only when the test says so; no clocks involved.
 */
import { describe, expect, it } from 'vitest';
import { config, EMPTY, NEVER, Observable, Subject, take } from 'rxjs';
import { isRejectedError, RejectedError } from '../errors.ts';
import { admit, type Launch } from './source.ts';
import { flush } from '../../test/support/helpers.ts';

/** A fake launcher: every run stays in flight until `finish(input)`. */
function launcher<T>() {
  const pending = new Map<T, (result: string) => void>();
  const started: T[] = [];
  const cancelled: T[] = [];
  let finished = 0;
  let peak = 0;
  const launch: Launch<T, string> = (input, done) => {
    started.push(input);
    pending.set(input, done);
    peak = Math.max(peak, pending.size);
    return () => {
      cancelled.push(input);
      pending.delete(input);
    };
  };
  return {
    launch,
    started,
    cancelled,
    get inFlight(): number { return pending.size; },
    get finished(): number { return finished; },
    get peak(): number { return peak; },
    finish(input: T): void {
      const done = pending.get(input);
      if (done === undefined) throw new Error(`${String(input)} is not in flight`);
      pending.delete(input);
      finished++;
      done(`r${String(input)}`);
    },
  };
}

/** Subscribes and records every notification. */
function watch<R>(o: Observable<R>) {
  const values: R[] = [];
  const state = { completed: false, error: undefined as unknown, values };
  const sub = o.subscribe({
    next: (v) => values.push(v),
    error: (e: unknown) => { state.error = e; },
    complete: () => { state.completed = true; },
  });
  return Object.assign(state, { sub });
}

/** A generator that counts pulls and records how many pulled inputs were unfinished at each pull. */
function countingGenerator(n: number, finished: () => number) {
  const stats = { pulled: 0, maxOutstanding: 0, closed: false };
  function* gen(): Generator<number> {
    try {
      for (let i = 0; i < n; i++) {
        stats.pulled++;
        stats.maxOutstanding = Math.max(stats.maxOutstanding, stats.pulled - finished());
        yield i;
      }
    } finally {
      stats.closed = true;
    }
  }
  return { stats, iterable: gen() };
}

describe('admit', () => {
  describe('arrays', () => {
    it('keeps at most `limit` runs in flight and emits results as runs end', () => {
      const h = launcher<number>();
      const w = watch(admit([1, 2, 3, 4, 5], { limit: 2, bufferSize: 0 }, h.launch));
      expect(h.started).toEqual([1, 2]);
      h.finish(2);
      expect(w.values).toEqual(['r2']);
      expect(h.started).toEqual([1, 2, 3]);
      h.finish(1);
      h.finish(3);
      h.finish(4);
      expect(w.completed).toBe(false);
      h.finish(5);
      expect(w.values).toEqual(['r2', 'r1', 'r3', 'r4', 'r5']);
      expect(w.completed).toBe(true);
      expect(h.peak).toBe(2);
    });

    it('synchronous runs over 100,000 inputs do not grow the stack', () => {
      const w = watch(admit(Array.from({ length: 100_000 }, (_, i) => i), { limit: 4, bufferSize: 0 }, (n, done) => {
        done(n);
        return () => {};
      }));
      expect(w.values).toHaveLength(100_000);
      expect(w.values[99_999]).toBe(99_999);
      expect(w.completed).toBe(true);
    });

    it('empty: completes at once without launching', () => {
      const h = launcher<number>();
      const w = watch(admit([], { limit: 2, bufferSize: 0 }, h.launch));
      expect(w.completed).toBe(true);
      expect(h.started).toEqual([]);
    });
  });

  describe('generators', () => {
    it('are pulled only when a slot frees: never more than `limit` pulled-but-unfinished', () => {
      const h = launcher<number>();
      const g = countingGenerator(8, () => h.finished);
      const w = watch(admit(g.iterable, { limit: 3, bufferSize: 0 }, h.launch));
      expect(g.stats.pulled).toBe(3);
      h.finish(1);
      expect(g.stats.pulled).toBe(4);
      h.finish(0);
      h.finish(3);
      expect(g.stats.pulled).toBe(6);
      for (const i of [2, 4, 5, 6, 7]) {
        expect(g.stats.pulled - h.finished).toBeLessThanOrEqual(3);
        h.finish(i);
      }
      expect(g.stats.maxOutstanding).toBe(3);
      expect(w.completed).toBe(true);
      expect(w.values).toHaveLength(8);
      expect(g.stats.closed).toBe(true);
    });

    it('an empty generator completes', () => {
      const h = launcher<number>();
      const w = watch(admit((function* () {})(), { limit: 2, bufferSize: 0 }, h.launch));
      expect(w.completed).toBe(true);
    });

    it('source error: runs in flight still emit, then the error', () => {
      const h = launcher<number>();
      function* failing(): Generator<number> {
        yield 1;
        yield 2;
        throw new Error('generator broke');
      }
      const w = watch(admit(failing(), { limit: 5, bufferSize: 0 }, h.launch));
      expect(h.started).toEqual([1, 2]);
      expect(w.error).toBeUndefined();
      h.finish(2);
      expect(w.values).toEqual(['r2']);
      expect(w.error).toBeUndefined();
      h.finish(1);
      expect(w.values).toEqual(['r2', 'r1']);
      expect((w.error as Error).message).toBe('generator broke');
      expect(w.completed).toBe(false);
    });

    it('early unsubscribe cancels in-flight runs and closes the generator', () => {
      const h = launcher<number>();
      const g = countingGenerator(100, () => h.finished);
      const w = watch(admit(g.iterable, { limit: 2, bufferSize: 0 }, h.launch));
      h.finish(0);
      expect(h.started).toEqual([0, 1, 2]);
      w.sub.unsubscribe();
      expect(h.cancelled.sort()).toEqual([1, 2]);
      expect(g.stats.closed).toBe(true);
      expect(g.stats.pulled).toBe(3);
      expect(w.values).toEqual(['r0']);
    });

    it('a run that ends after unsubscribe emits nothing and pulls nothing', () => {
      const pending: ((r: string) => void)[] = [];
      const g = countingGenerator(10, () => 0);
      const w = watch(admit(g.iterable, { limit: 1, bufferSize: 0 }, (_n, done) => {
        pending.push(done);
        return () => {}; // ignores cancellation: ends later on its own
      }));
      w.sub.unsubscribe();
      pending[0]!('late');
      expect(w.values).toEqual([]);
      expect(g.stats.pulled).toBe(1);
    });

    it('plain iterators without return() are fine on unsubscribe', () => {
      const h = launcher<number>();
      let i = 0;
      const iterable: Iterable<number> = { [Symbol.iterator]: () => ({ next: () => ({ done: false, value: i++ }) }) };
      const w = watch(admit(iterable, { limit: 2, bufferSize: 0 }, h.launch));
      expect(h.started).toEqual([0, 1]);
      expect(() => w.sub.unsubscribe()).not.toThrow();
      expect(h.cancelled.sort()).toEqual([0, 1]);
    });
  });

  describe('async generators', () => {
    it('are pulled only when a slot frees, and every input is run', async () => {
      const h = launcher<number>();
      const stats = { pulled: 0, maxOutstanding: 0, closed: false };
      async function* gen(): AsyncGenerator<number> {
        try {
          for (let i = 0; i < 6; i++) {
            await Promise.resolve();
            stats.pulled++;
            stats.maxOutstanding = Math.max(stats.maxOutstanding, stats.pulled - h.finished);
            yield i;
          }
        } finally {
          stats.closed = true;
        }
      }
      const w = watch(admit(gen(), { limit: 2, bufferSize: 0 }, h.launch));
      await flush();
      expect(stats.pulled).toBe(2);
      expect(h.started).toEqual([0, 1]);
      for (const i of [1, 0, 2, 3, 5, 4]) {
        h.finish(i);
        await flush();
        expect(stats.pulled - h.finished).toBeLessThanOrEqual(2);
      }
      expect(w.values).toEqual(['r1', 'r0', 'r2', 'r3', 'r5', 'r4']);
      expect(w.completed).toBe(true);
      expect(stats.maxOutstanding).toBe(2);
      expect(stats.closed).toBe(true);
    });

    it('empty: completes once the iterator reports done', async () => {
      const w = watch(admit((async function* () {})(), { limit: 2, bufferSize: 0 }, launcher<never>().launch));
      await flush();
      expect(w.completed).toBe(true);
      expect(w.values).toEqual([]);
    });

    it('never: an iterator that never yields emits nothing; unsubscribe calls return()', async () => {
      let returned = 0;
      const iterable: AsyncIterable<number> = {
        [Symbol.asyncIterator]: () => ({
          next: () => new Promise<IteratorResult<number>>(() => {}),
          return: async () => { returned++; return { done: true, value: undefined }; },
        }),
      };
      const h = launcher<number>();
      const w = watch(admit(iterable, { limit: 2, bufferSize: 0 }, h.launch));
      await flush();
      expect(w.values).toEqual([]);
      expect(w.completed).toBe(false);
      w.sub.unsubscribe();
      await flush();
      expect(returned).toBe(1);
      expect(h.started).toEqual([]);
    });

    it('source error: runs in flight still emit, then the error', async () => {
      const h = launcher<number>();
      async function* failing(): AsyncGenerator<number> {
        yield 1;
        await Promise.resolve();
        throw new Error('async broke');
      }
      const w = watch(admit(failing(), { limit: 3, bufferSize: 0 }, h.launch));
      await flush();
      expect(h.started).toEqual([1]);
      expect(w.error).toBeUndefined();
      h.finish(1);
      expect(w.values).toEqual(['r1']);
      expect((w.error as Error).message).toBe('async broke');
    });

    it('early unsubscribe cancels in-flight runs and closes the generator', async () => {
      const h = launcher<number>();
      let closed = false;
      async function* gen(): AsyncGenerator<number> {
        try {
          for (let i = 0; ; i++) yield i;
        } finally {
          closed = true;
        }
      }
      const w = watch(admit(gen(), { limit: 2, bufferSize: 0 }, h.launch));
      await flush();
      expect(h.started).toEqual([0, 1]);
      w.sub.unsubscribe();
      expect(h.cancelled.sort()).toEqual([0, 1]);
      await flush();
      expect(closed).toBe(true);
    });
  });

  describe('Observables', () => {
    it('never: emits nothing; unsubscribing unsubscribes the source', () => {
      const h = launcher<number>();
      const w = watch(admit(NEVER, { limit: 2, bufferSize: 4 }, h.launch));
      expect(w.values).toEqual([]);
      expect(w.completed).toBe(false);
      w.sub.unsubscribe();
      expect(w.sub.closed).toBe(true);
    });

    it('empty: completes at once', () => {
      const w = watch(admit(EMPTY, { limit: 2, bufferSize: 4 }, launcher<number>().launch));
      expect(w.completed).toBe(true);
    });

    it('excess inputs wait in the buffer and start in order as slots free', () => {
      const h = launcher<number>();
      const src = new Subject<number>();
      const w = watch(admit(src, { limit: 2, bufferSize: 3 }, h.launch));
      for (const i of [1, 2, 3, 4, 5]) src.next(i);
      expect(h.started).toEqual([1, 2]);
      h.finish(2);
      expect(h.started).toEqual([1, 2, 3]);
      src.complete();
      expect(w.completed).toBe(false);
      for (const i of [1, 3, 4, 5]) h.finish(i);
      expect(w.values).toEqual(['r2', 'r1', 'r3', 'r4', 'r5']);
      expect(w.completed).toBe(true);
      expect(h.peak).toBe(2);
    });

    it("overflowing the buffer fails with RejectedError 'QUEUE_FULL' after in-flight runs emit", () => {
      const h = launcher<number>();
      const src = new Subject<number>();
      const w = watch(admit(src, { limit: 1, bufferSize: 2 }, h.launch));
      src.next(1);
      src.next(2);
      src.next(3);
      expect(w.error).toBeUndefined();
      src.next(4); // buffer (2, 3) is full
      expect(w.error).toBeUndefined(); // run 1 is still in flight
      h.finish(1);
      expect(w.values).toEqual(['r1']);
      expect(w.error).toBeInstanceOf(RejectedError);
      expect(isRejectedError(w.error)).toBe(true);
      const err = w.error as RejectedError;
      expect(err.code).toBe('QUEUE_FULL');
      expect(err.retriable).toBe(true);
      expect(err.message).toContain('bufferSize');
      expect(h.started).toEqual([1]); // buffered inputs are dropped, not run
    });

    it('bufferSize 0: any input beyond the limit overflows', () => {
      const h = launcher<number>();
      const src = new Subject<number>();
      const w = watch(admit(src, { limit: 1, bufferSize: 0 }, h.launch));
      src.next(1);
      src.next(2);
      h.finish(1);
      expect(w.values).toEqual(['r1']);
      expect((w.error as RejectedError).code).toBe('QUEUE_FULL');
    });

    it('after an overflow no further inputs are launched', () => {
      const h = launcher<number>();
      const src = new Subject<number>();
      const w = watch(admit(src, { limit: 2, bufferSize: 0 }, h.launch));
      src.next(1);
      src.next(2);
      src.next(3); // overflow: the stream will fail
      h.finish(1); // a slot frees while 2 is still in flight
      src.next(4);
      expect(h.started).toEqual([1, 2]);
      h.finish(2);
      expect((w.error as RejectedError).code).toBe('QUEUE_FULL');
    });

    it('source error: runs in flight still emit, then the error; buffered inputs are dropped', () => {
      const h = launcher<number>();
      const src = new Subject<number>();
      const w = watch(admit(src, { limit: 1, bufferSize: 5 }, h.launch));
      src.next(1);
      src.next(2);
      src.error(new Error('subject broke'));
      expect(w.error).toBeUndefined();
      h.finish(1);
      expect(w.values).toEqual(['r1']);
      expect((w.error as Error).message).toBe('subject broke');
      expect(h.started).toEqual([1]);
    });

    it('early unsubscribe cancels in-flight runs and unsubscribes the source', () => {
      const h = launcher<number>();
      const src = new Subject<number>();
      const w = watch(admit(src, { limit: 2, bufferSize: 5 }, h.launch));
      src.next(1);
      src.next(2);
      src.next(3);
      expect(src.observed).toBe(true);
      w.sub.unsubscribe();
      expect(src.observed).toBe(false);
      expect(h.cancelled.sort()).toEqual([1, 2]);
      expect(h.started).toEqual([1, 2]);
    });

    /** A synchronous source of up to `max` values that stops only when its subscriber closes; counts what it emitted. */
    const eager = (max: number) => {
      const stats = { emitted: 0 };
      const source = new Observable<number>((subscriber) => {
        for (let i = 0; i < max && !subscriber.closed; i++) {
          stats.emitted++;
          subscriber.next(i);
        }
        subscriber.complete();
      });
      return { source, stats };
    };

    it('a synchronous source overflowing during its first emission is unsubscribed at once (no endless loop)', () => {
      const h = launcher<number>();
      const { source, stats } = eager(10_000_000);
      const w = watch(admit(source, { limit: 2, bufferSize: 3 }, h.launch));
      // 2 started, 3 buffered, 1 overflowing; the source may emit one more before it sees it is closed
      expect(stats.emitted).toBeLessThanOrEqual(7);
      expect(h.started).toEqual([0, 1]);
      expect(w.error).toBeUndefined(); // runs in flight emit first
      h.finish(0);
      h.finish(1);
      expect(w.values).toEqual(['r0', 'r1']);
      expect((w.error as RejectedError).code).toBe('QUEUE_FULL');
    });

    it('unsubscribing while a synchronous source is emitting stops the source', () => {
      const { source, stats } = eager(10_000_000);
      const values: string[] = [];
      admit(source, { limit: 1, bufferSize: 0 }, (n: number, done: (r: string) => void) => {
        done(`r${n}`);
        return () => {};
      }).pipe(take(3)).subscribe((v) => values.push(v));
      expect(values).toEqual(['r0', 'r1', 'r2']);
      expect(stats.emitted).toBeLessThanOrEqual(4);
    });

    it('draining a large buffer of synchronous runs does not grow the stack', async () => {
      const unhandled: unknown[] = [];
      const previous = config.onUnhandledError;
      config.onUnhandledError = (e) => unhandled.push(e);
      try {
        const src = new Subject<number>();
        let releaseFirst: ((r: number) => void) | undefined;
        const w = watch(admit(src, { limit: 1, bufferSize: 50_000 }, (n: number, done: (r: number) => void) => {
          if (n === 0) releaseFirst = done;
          else done(n);
          return () => {};
        }));
        for (let i = 0; i <= 50_000; i++) src.next(i);
        src.complete();
        releaseFirst!(0);
        expect(w.values).toHaveLength(50_001);
        expect(w.completed).toBe(true);
      } finally {
        await new Promise((resolve) => setTimeout(resolve, 0)); // let RxJS report any unhandled error first
        config.onUnhandledError = previous;
      }
      expect(unhandled).toEqual([]);
    });
  });
});
