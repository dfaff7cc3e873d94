/**
 * The ready queue: entries start in FIFO order, an entry pushed while another
 * is being started waits for the drain instead of nesting, and a chain of any
 * length runs at constant stack depth.
 */
import { describe, expect, it } from 'vitest';
import { ReadyQueue, type Stages } from './ready.ts';
import type { Run } from './run.ts';

const run = {} as Run; // the queue only carries it

describe('ReadyQueue', () => {
  it('starts a pushed entry at once when nothing is draining', () => {
    const q = new ReadyQueue();
    const seen: number[] = [];
    q.push({ enter: (_r, n) => void seen.push(n) }, run, 7);
    expect(seen).toEqual([7]);
  });

  it('entries pushed while one is starting run after it, in push order (no nesting)', () => {
    const q = new ReadyQueue();
    const log: string[] = [];
    let depth = 0;
    const stages: Stages = {
      enter: (_r, n) => {
        depth++;
        log.push(`enter ${n} at depth ${depth}`);
        if (n === 0) {
          q.push(stages, run, 1);
          q.push(stages, run, 2);
        }
        if (n === 1) q.push(stages, run, 3);
        depth--;
      },
    };
    q.push(stages, run, 0);
    expect(log).toEqual(['enter 0 at depth 1', 'enter 1 at depth 1', 'enter 2 at depth 1', 'enter 3 at depth 1']);
  });

  it('a chain of 100,000 entries each pushing the next runs without growing the stack', () => {
    const q = new ReadyQueue();
    let last = -1;
    const stages: Stages = {
      enter: (_r, n) => {
        last = n;
        if (n < 100_000) q.push(stages, run, n + 1);
      },
    };
    q.push(stages, run, 0);
    expect(last).toBe(100_000);
  });

  it('an entry that throws does not wedge the queue', () => {
    const q = new ReadyQueue();
    expect(() => q.push({ enter: () => { throw new Error('bug'); } }, run, 0)).toThrow('bug');
    const seen: number[] = [];
    q.push({ enter: (_r, n) => void seen.push(n) }, run, 1);
    expect(seen).toEqual([1]);
  });
});
