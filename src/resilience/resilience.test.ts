/**
 * Resilience: provider bulkheads on the shared Limiter (limit, bounded FIFO
 * queue, refusal at once, abort leaves the queue) and the settings' defaults.
 */
import { describe, expect, it } from 'vitest';
import { isRejectedError } from '../errors.ts';
import { Resilience, ResilienceOptionsSchema } from './resilience.ts';

/** A promise with its resolve. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Resilience: bulkheads', () => {
  it('runs at most `limit` calls at once and `queue` waiting in order; more are refused at once without running', async () => {
    const r = new Resilience({ bulkheads: { openai: { limit: 2, queue: 2 } } }, () => undefined);
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const calls = gates.map((g, i) => r.inBulkhead('openai', async () => {
      started.push(i);
      await g.promise;
      return i;
    }));
    const refusal = calls[4]!.then(() => undefined, (e: unknown) => e);
    await flush();
    expect(started).toEqual([0, 1]);
    const refused = await refusal;
    expect(isRejectedError(refused)).toBe(true);
    expect(refused).toMatchObject({ code: 'QUEUE_FULL', retriable: true, message: "bulkhead of provider 'openai' is full (2 calls running, 2 waiting)" });
    gates[1]!.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2]); // the freed place goes to the oldest waiter
    gates[0]!.resolve();
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    gates[2]!.resolve();
    gates[3]!.resolve();
    expect(await Promise.all(calls.slice(0, 4))).toEqual([0, 1, 2, 3]);
  });

  it('a failing call frees its place too', async () => {
    const r = new Resilience({ bulkheads: { p: { limit: 1, queue: 0 } } }, () => undefined);
    await expect(r.inBulkhead('p', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(r.inBulkhead('p', () => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('a waiting call whose signal aborts rejects with the reason at once and frees its queue place', async () => {
    const r = new Resilience({ bulkheads: { p: { limit: 1, queue: 1 } } }, () => undefined);
    const hold = deferred();
    const first = r.inBulkhead('p', () => hold.promise);
    const ctl = new AbortController();
    let ran = false;
    const waiting = r.inBulkhead('p', async () => { ran = true; }, ctl.signal);
    await expect(r.inBulkhead('p', async () => undefined)).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    const reason = new Error('cancelled');
    ctl.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    const third = r.inBulkhead('p', async () => 'third'); // the aborted call's place is free again
    hold.resolve();
    await first;
    expect(await third).toBe('third');
    expect(ran).toBe(false);
  });

  it('bulkheads are per provider; a provider without one is not limited', async () => {
    const r = new Resilience({ bulkheads: { a: { limit: 1, queue: 0 } } }, () => undefined);
    const hold = deferred();
    const a = r.inBulkhead('a', () => hold.promise);
    await expect(r.inBulkhead('a', async () => undefined)).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    const others = await Promise.all(Array.from({ length: 10 }, (_, i) => r.inBulkhead('b', async () => i)));
    expect(others).toHaveLength(10);
    hold.resolve();
    await a;
  });

  it('defaults: no retries configured, a budget of 20', () => {
    const r = new Resilience({}, () => undefined);
    expect(r.retry).toEqual({});
    expect(r.retryBudget).toBe(20);
  });

  it('the schema names the bad field', () => {
    const res = ResilienceOptionsSchema.safeParse({ bulkheads: { openai: { limit: 0, queue: 1 } } });
    expect(res.success).toBe(false);
    expect(res.error!.issues[0]!.path).toEqual(['bulkheads', 'openai', 'limit']);
  });
});
