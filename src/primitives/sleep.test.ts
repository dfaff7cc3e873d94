import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sleep } from './sleep.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('sleep', () => {
  it('resolves after ms of virtual time', async () => {
    let done = false;
    void sleep(1000).then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort rejects at once with the reason itself and clears the timer', async () => {
    const ctl = new AbortController();
    const p = sleep(60_000, ctl.signal);
    const reason = new Error('stop');
    ctl.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(Date.now()).toBe(0);
  });

  it('an already aborted signal rejects without a timer', async () => {
    const ctl = new AbortController();
    ctl.abort();
    const p = sleep(10, ctl.signal);
    expect(vi.getTimerCount()).toBe(0);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('removes its abort listener once it resolved', async () => {
    const ctl = new AbortController();
    const p = sleep(5, ctl.signal);
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(5);
    await p;
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
  });
});
