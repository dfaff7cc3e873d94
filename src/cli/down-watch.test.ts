// `--exit-on-down-ms`: only a health that stays down for the whole grace period counts, and only once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHealthBoard } from '../transports/health.ts';
import { watchDown } from './down-watch.ts';

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('watchDown', () => {
  it('fires once after the grace period of uninterrupted red; a recovery in between resets it', () => {
    const board = createHealthBoard();
    const seen: string[] = [];
    const unwatch = watchDown(board, 1000, (r) => seen.push(r.status));
    board.set('consumer', 'down', 'crashed');
    vi.advanceTimersByTime(999);
    board.set('consumer', 'up');
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual([]);
    board.set('consumer', 'down', 'crashed again');
    vi.advanceTimersByTime(1000);
    expect(seen).toEqual(['down']);
    board.set('consumer', 'up');
    board.set('consumer', 'down', 'and again');
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual(['down']);
    unwatch();
    expect(vi.getTimerCount()).toBe(0);
  });
});
