/**
 * Marble tests for the `stage` operator: mergeMap-like with a concurrency cap,
 * whose waiting items are served by priority with aging. Work that takes time
 * completes through `timer` on the TestScheduler (virtual frames).
 */
import { describe, expect, it } from 'vitest';
import { config, Subject, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { stage, type StageConfig } from './stage.ts';
import type { Level } from '../primitives/limiter.ts';

const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** Work that finishes `frames` virtual frames after it starts; logs starts as `item@frame`. */
function timedWork<T>(scheduler: TestScheduler, frames: (item: T) => number, log: string[] = []): StageConfig<T>['work'] {
  return (item, done) => {
    log.push(`${String(item)}@${scheduler.now()}`);
    timer(frames(item)).subscribe(() => done());
  };
}

/** Level by first letter: h → high, l → low, anything else normal. */
const byLetter = (item: string): Level => (item.startsWith('h') ? 0 : item.startsWith('l') ? 2 : 1);

describe('stage', () => {
  it('never: emits nothing and stays subscribed', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<string>('-');
      expectObservable(source.pipe(stage({ cap: 2, level: () => 1, work: (_, done) => done() }))).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('empty: completes at once', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<string>('|').pipe(stage({ cap: 2, level: () => 1, work: (_, done) => done() }))).toBe('|');
    });
  });

  it('single: emits the item when its work is done, then completes', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const out = cold('a|').pipe(stage({ cap: 1, level: () => 1, work: timedWork(scheduler, () => 2) }));
      expectObservable(out).toBe('--(a|)');
    });
  });

  it('many with synchronous work: passes items straight through', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const out = cold('abc|').pipe(stage({ cap: 1, level: () => 1, work: (_, done) => done() }));
      expectObservable(out).toBe('abc|');
    });
  });

  it('many, uncapped: all work overlaps; completion waits for the last item', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const out = cold('abc|').pipe(stage({ cap: Infinity, level: () => 1, work: timedWork(scheduler, () => 3) }));
      expectObservable(out).toBe('---ab(c|)');
    });
  });

  it('emits in completion order, not arrival order', () => {
    const scheduler = newScheduler();
    const frames: Record<string, number> = { a: 5, b: 1, c: 2 };
    scheduler.run(({ cold, expectObservable }) => {
      const out = cold('abc|').pipe(stage({ cap: 3, level: () => 1, work: timedWork(scheduler, (x: string) => frames[x]!) }));
      expectObservable(out).toBe('--b-c(a|)');
    });
  });

  it('respects the cap: at most `cap` items are worked on at once', () => {
    const scheduler = newScheduler();
    const log: string[] = [];
    let active = 0;
    let peak = 0;
    scheduler.run(({ cold, expectObservable }) => {
      const out = cold('abcd|').pipe(
        stage({
          cap: 2,
          level: () => 1,
          work: (item, done) => {
            log.push(`${item}@${scheduler.now()}`);
            active++;
            peak = Math.max(peak, active);
            timer(3).subscribe(() => {
              active--;
              done();
            });
          },
        }),
      );
      // a,b start at 0,1; c waits until a is done (3), d until b is done (4).
      expectObservable(out).toBe('---ab-c(d|)');
    });
    expect(log).toEqual(['a@0', 'b@1', 'c@3', 'd@4']);
    expect(peak).toBe(2);
  });

  it('serves waiting items high before normal before low, FIFO within a level', () => {
    const scheduler = newScheduler();
    const log: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      // x takes the only slot; the rest arrive while it works.
      const values = { x: 'x', a: 'l1', b: 'n1', c: 'h1', d: 'l2', e: 'n2', f: 'h2' };
      const out = cold('xabcdef|', values).pipe(stage({ cap: 1, level: byLetter, agingGrants: 100, work: timedWork(scheduler, () => 10, log) }));
      expectObservable(out).toBe('10ms x 9ms c 9ms f 9ms b 9ms e 9ms a 9ms (d|)', {
        x: 'x', c: 'h1', f: 'h2', b: 'n1', e: 'n2', a: 'l1', d: 'l2',
      });
    });
    expect(log.map((s) => s.split('@')[0])).toEqual(['x', 'h1', 'h2', 'n1', 'n2', 'l1', 'l2']);
  });

  it('aging: a low item is served after `agingGrants` grants even while high items keep arriving', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      // x busy from 0; l waits from 1; a..f are high and arrive one per frame.
      const values = { x: 'x', l: 'low', a: 'h-a', b: 'h-b', c: 'h-c', d: 'h-d', e: 'h-e', f: 'h-f' };
      const out = cold('xlabcdef|', values).pipe(stage({ cap: 1, level: byLetter, agingGrants: 2, work: timedWork(scheduler, () => 2) }));
      // Grants: a (l passed over once), b (twice), then l has aged and goes next.
      expectObservable(out).toBe('--x-a-b-l-c-d-e-(f|)', values);
    });
  });

  it('without aging pressure the same low item is served last', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const values = { x: 'x', l: 'low', a: 'h-a', b: 'h-b', c: 'h-c', d: 'h-d', e: 'h-e', f: 'h-f' };
      const out = cold('xlabcdef|', values).pipe(stage({ cap: 1, level: byLetter, agingGrants: 100, work: timedWork(scheduler, () => 2) }));
      expectObservable(out).toBe('--x-a-b-c-d-e-f-(l|)', values);
    });
  });

  it('source error: errors at once (like mergeMap); items still in work are not emitted', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('ab---c#', undefined, new Error('src'));
      const frames: Record<string, number> = { a: 1, b: 10, c: 10 };
      const out = source.pipe(stage({ cap: 2, level: () => 1, work: timedWork(scheduler, (x: string) => frames[x]!) }));
      expectObservable(out).toBe('-a----#', undefined, new Error('src'));
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('early unsubscribe: stops the output and unsubscribes the source', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('abc');
      const out = source.pipe(stage({ cap: 1, level: () => 1, work: timedWork(scheduler, () => 2) }));
      expectObservable(out, '^--!').toBe('--a');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('early unsubscribe starts no further work for waiting items', () => {
    const scheduler = newScheduler();
    const log: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const out = cold('abc').pipe(stage({ cap: 1, level: () => 1, work: timedWork(scheduler, () => 2, log) }));
      expectObservable(out, '^--!').toBe('--a');
    });
    expect(log).toEqual(['a@0', 'b@2']);
  });

  it('completes only after every queued item is done', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const out = cold('(abc|)').pipe(stage({ cap: 1, level: () => 1, work: timedWork(scheduler, () => 2) }));
      expectObservable(out).toBe('--a-b-(c|)');
    });
  });

  it('synchronous work released from the buffer does not recurse (10,000 waiting items)', () => {
    const input = new Subject<number>();
    const out: number[] = [];
    let release: (() => void) | undefined;
    input
      .pipe(stage({ cap: 1, level: () => 1, work: (n, done) => (n === 0 ? (release = done) : done()) }))
      .subscribe((n) => out.push(n));
    for (let i = 0; i < 10_000; i++) input.next(i);
    expect(out).toEqual([]);
    release!();
    expect(out).toHaveLength(10_000);
    expect([...out].sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('an item whose done grants a synchronous waiter is still emitted before completion', () => {
    const input = new Subject<string>();
    const out: string[] = [];
    let completed = false;
    let releaseA: (() => void) | undefined;
    input
      .pipe(stage({ cap: 1, level: () => 1, work: (item, done) => (item === 'a' ? (releaseA = done) : done()) }))
      .subscribe({ next: (x) => out.push(x), complete: () => { completed = true; } });
    input.next('a'); // takes the slot, finishes later
    input.next('b'); // waits; its work is synchronous
    input.complete();
    releaseA!();
    expect(completed).toBe(true);
    expect([...out].sort()).toEqual(['a', 'b']);
  });

  // Decision: `work` must call `done` and must not throw. A throw is a programming
  // error, and the stage should surface it as an error notification (as mergeMap does
  // when its project throws) rather than lose it.
  it('a throwing `work` errors the stage output', () => {
    const unhandled: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (e) => unhandled.push(e);
    try {
      newScheduler().run(({ cold, expectObservable }) => {
        const boom = new Error('boom');
        const out: Observable<string> = cold('ab|').pipe(
          stage({ cap: 2, level: () => 1, work: (item, done) => { if (item === 'b') throw boom; done(); } }),
        );
        expectObservable(out).toBe('a#', undefined, boom);
      });
      expect(unhandled).toEqual([]);
    } finally {
      config.onUnhandledError = previous;
    }
  });
});
