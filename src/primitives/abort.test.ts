import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { onAbort } from './abort.ts';

let warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});
/** Node emits warnings on the next tick. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('onAbort', () => {
  it('a thousand listeners on one signal: the signal holds one listener, each is called once with the reason, in order; no leak warning', async () => {
    const ctl = new AbortController();
    const calls: [number, unknown][] = [];
    const undo = Array.from({ length: 1_000 }, (_, k) => onAbort(ctl.signal, (reason) => calls.push([k, reason])));
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    const reason = new Error('stop');
    ctl.abort(reason);
    expect(calls).toHaveLength(1_000);
    expect(calls.every(([k, r], i) => k === i && r === reason)).toBe(true);
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
    undo.forEach((u) => u()); // after the abort: nothing to undo
    await settle();
    expect(warnings.map((w) => w.name)).toEqual([]);
  });

  it('undone listeners are not called; the last one undone leaves the signal with no listener; undoing twice is harmless', () => {
    const ctl = new AbortController();
    const called: string[] = [];
    const a = onAbort(ctl.signal, () => called.push('a'));
    const b = onAbort(ctl.signal, () => called.push('b'));
    a();
    a();
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    b();
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(0);
    const c = onAbort(ctl.signal, () => called.push('c'));
    expect(getEventListeners(ctl.signal, 'abort')).toHaveLength(1);
    ctl.abort();
    c();
    expect(called).toEqual(['c']);
  });

  it('the same function twice is two listeners, each undone on its own', () => {
    const ctl = new AbortController();
    let n = 0;
    const fn = (): void => void n++;
    const first = onAbort(ctl.signal, fn);
    onAbort(ctl.signal, fn);
    first();
    ctl.abort();
    expect(n).toBe(1);
  });

  it('a listener undone by another during the abort is not called (as with listeners of their own)', () => {
    const ctl = new AbortController();
    const called: string[] = [];
    let undoB = (): void => undefined;
    onAbort(ctl.signal, () => {
      called.push('a');
      undoB();
    });
    undoB = onAbort(ctl.signal, () => called.push('b'));
    ctl.abort();
    expect(called).toEqual(['a']);
  });

  it('an already aborted signal: called on the next microtask with its reason; nothing to undo', async () => {
    const reason = new Error('late');
    const signal = AbortSignal.abort(reason);
    const got: unknown[] = [];
    const undo = onAbort(signal, (r) => got.push(r));
    expect(got).toEqual([]);
    undo();
    await Promise.resolve();
    expect(got).toEqual([reason]);
  });

  it('no signal: nothing happens', () => {
    expect(() => onAbort(undefined, () => undefined)()).not.toThrow();
  });
});
