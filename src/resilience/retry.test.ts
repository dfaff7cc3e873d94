/**
 * withRetries, driven by scripted attempt functions under vi.useFakeTimers():
 * backoff growth, cap and jitter bounds, retry-after against backoff and against
 * maxRetryAfterMs, abort during the wait, non-retriable errors, maxAttempts 1,
 * RetriesExhaustedError, and the run's retry budget. Nothing waits on the wall clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CancelledError, isRetriesExhaustedError, ProviderError, RetriesExhaustedError, ValidationError,
} from '../errors.ts';
import { withRetries, type RetryBudget, type RetryOptions } from './retry.ts';

const transient = (label = 'boom', retryAfterMs?: number): ProviderError =>
  new ProviderError('SERVER_ERROR', `HTTP 500: ${label}`, true, {
    provider: 'p', model: 'm', status: 500, ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

/** Lets pending promise callbacks run (fake timers do not touch microtasks). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

/** An attempt function that fails with `failures[n-1]` on attempt n and returns `ok` afterwards. */
function scripted<T>(failures: readonly unknown[], ok: T) {
  return vi.fn(async (n: number): Promise<T> => {
    if (n <= failures.length) throw failures[n - 1];
    return ok;
  });
}

interface Retry { readonly error: unknown; readonly attempt: number; readonly delayMs: number }

/** Runs withRetries to its end (firing every timer) and returns the outcome and the retries seen. */
async function runToEnd<T>(attempt: (n: number) => Promise<T>, options: RetryOptions, budget?: RetryBudget) {
  const retries: Retry[] = [];
  const ctl = new AbortController();
  const p = withRetries('m', attempt, options, {
    signal: ctl.signal,
    ...(budget === undefined ? {} : { budget }),
    onRetry: (error, attempt, delayMs) => retries.push({ error, attempt, delayMs }),
  }).then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
  await vi.runAllTimersAsync();
  return { outcome: await p, retries };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('withRetries: backoff', () => {
  it('grows exponentially between attempts and is capped at maxDelayMs', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // a fixed jitter draw
    const failures = Array.from({ length: 12 }, (_, i) => transient(`#${i + 1}`));
    const { outcome, retries } = await runToEnd(scripted(failures, 'never'), { maxAttempts: 12, initialDelayMs: 100, maxDelayMs: 1000 });
    expect(outcome.ok).toBe(false);
    const d = retries.map((r) => r.delayMs);
    expect(d).toHaveLength(11);
    for (let k = 1; k < d.length; k++) expect(d[k]).toBeGreaterThanOrEqual(d[k - 1]!); // never shrinks
    expect(d[3]! / d[0]!).toBeGreaterThanOrEqual(8); // three more retries: 2^3 (full jitter at a fixed draw)
    expect(Math.max(...d)).toBeLessThanOrEqual(1000); // the cap (full jitter draws below it)
    expect(new Set(d.slice(-4)).size).toBe(1); // the cap holds from some point on
    expect(d[0]).toBeGreaterThan(0);
  });

  it('jitter stays within bounds: each wait in [0, min(maxDelayMs, 1.5 * initial * 2^k)], the mean still doubling', async () => {
    const init = 100;
    const samples: number[][] = [];
    for (let s = 0; s < 300; s++) {
      const { retries } = await runToEnd(scripted(Array.from({ length: 7 }, () => transient()), 'x'), { maxAttempts: 8, initialDelayMs: init, maxDelayMs: 1e9 });
      samples.push(retries.map((r) => r.delayMs));
    }
    for (const d of samples) {
      expect(d).toHaveLength(7);
      d.forEach((delay, k) => {
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(1.5 * init * 2 ** k);
      });
    }
    const mean = (k: number): number => samples.reduce((a, d) => a + d[k]!, 0) / samples.length;
    for (let k = 1; k < 7; k++) expect(mean(k)).toBeGreaterThan(0.25 * init * 2 ** k);
    expect(mean(6)).toBeGreaterThan(8 * mean(2));
    // and a cap applies to every draw
    for (let s = 0; s < 50; s++) {
      const { retries } = await runToEnd(scripted(Array.from({ length: 7 }, () => transient()), 'x'), { maxAttempts: 8, initialDelayMs: init, maxDelayMs: 250 });
      for (const r of retries) expect(r.delayMs).toBeLessThanOrEqual(250);
    }
  });

  it('the first wait never exceeds initialDelayMs (full jitter, as documented)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    const { retries } = await runToEnd(scripted([transient()], 'ok'), { maxAttempts: 2, initialDelayMs: 100, maxDelayMs: 10_000 });
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(100);
  });

  it('waits the announced delay on the (fake) clock before the next attempt, and passes the attempt number', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.3);
    const attempt = scripted([transient('a'), transient('b')], 'done');
    const retries: (Retry & { at: number })[] = [];
    const p = withRetries('m', attempt, { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 5000 }, {
      signal: new AbortController().signal,
      onRetry: (error, n, delayMs) => retries.push({ error, attempt: n, delayMs, at: Date.now() }),
    });
    for (const expectedCalls of [1, 2]) {
      await settle();
      expect(attempt).toHaveBeenCalledTimes(expectedCalls);
      const { delayMs: delay, at } = retries[expectedCalls - 1]!;
      expect(retries[expectedCalls - 1]!.attempt).toBe(expectedCalls + 1);
      expect(delay).toBeGreaterThan(2);
      // the fake clock may already be past `at` (it fired the previous wait): advance to just before the end of this one
      await vi.advanceTimersByTimeAsync(at + Math.floor(delay) - 1 - Date.now());
      expect(attempt).toHaveBeenCalledTimes(expectedCalls); // not before the delay
      await vi.advanceTimersByTimeAsync(2);
      expect(attempt).toHaveBeenCalledTimes(expectedCalls + 1);
    }
    await expect(p).resolves.toBe('done');
    expect(attempt.mock.calls.map((c) => c[0])).toEqual([1, 2, 3]);
    expect((retries[0]!.error as Error).message).toContain('a');
    expect((retries[1]!.error as Error).message).toContain('b');
  });
});

describe('withRetries: retry-after', () => {
  it('a retry-after longer than the backoff wins', async () => {
    const attempt = scripted([transient('limited', 5000)], 'ok');
    const retries: Retry[] = [];
    const p = withRetries('m', attempt, { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 }, {
      signal: new AbortController().signal,
      onRetry: (error, n, delayMs) => retries.push({ error, attempt: n, delayMs }),
    });
    await settle();
    expect(retries.map((r) => r.delayMs)).toEqual([5000]);
    await vi.advanceTimersByTimeAsync(4999);
    expect(attempt).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe('ok');
    expect(attempt).toHaveBeenCalledTimes(2);
  });

  it('a backoff longer than the retry-after wins', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { outcome, retries } = await runToEnd(scripted([transient('soon', 1)], 'ok'), { maxAttempts: 2, initialDelayMs: 1000, maxDelayMs: 10_000 });
    expect(outcome).toEqual({ ok: true, value: 'ok' });
    expect(retries[0]!.delayMs).toBeGreaterThan(1);
  });

  it('a retry-after of 0 does not shorten the backoff below its own value', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { retries } = await runToEnd(scripted([transient('now', 0)], 'ok'), { maxAttempts: 2, initialDelayMs: 100, maxDelayMs: 10_000 });
    expect(retries[0]!.delayMs).toBeGreaterThan(0);
  });

  it('a retry-after longer than maxRetryAfterMs gives up at once (no wait, no budget spent)', async () => {
    const last = transient('come back in two minutes', 120_000);
    const attempt = scripted([last], 'never');
    const onRetry = vi.fn();
    const budget = { remaining: 5 };
    const p = withRetries('openai:gpt-4o-mini', attempt, { maxAttempts: 5, maxRetryAfterMs: 60_000 }, { signal: new AbortController().signal, budget, onRetry });
    const error = await p.catch((e: unknown) => e);
    expect(isRetriesExhaustedError(error)).toBe(true);
    const r = error as RetriesExhaustedError;
    expect(r.attempts).toBe(1);
    expect(r.cause).toBe(last);
    expect(r.retriable).toBe(false);
    expect(r.message).toContain('openai:gpt-4o-mini');
    expect(r.message).toContain('retry-after 120000 ms is longer than 60000 ms');
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
    expect(budget.remaining).toBe(5);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a retry-after equal to maxRetryAfterMs is waited for', async () => {
    const { outcome, retries } = await runToEnd(scripted([transient('x', 3000)], 'ok'), { maxAttempts: 2, maxRetryAfterMs: 3000, initialDelayMs: 1, maxDelayMs: 1 });
    expect(outcome).toEqual({ ok: true, value: 'ok' });
    expect(retries[0]!.delayMs).toBe(3000);
  });
});

describe('withRetries: abort, non-retriable errors, attempts', () => {
  it('an abort during the backoff wait rejects at once with the signal reason and makes no more attempts', async () => {
    const attempt = scripted([transient('a', 10_000)], 'never');
    const ctl = new AbortController();
    const onRetry = vi.fn();
    const p = withRetries('m', attempt, { maxAttempts: 5 }, { signal: ctl.signal, onRetry });
    const seen = p.catch((e: unknown) => e);
    await settle();
    expect(onRetry).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(1); // the backoff wait
    const reason = new CancelledError('user pressed stop');
    ctl.abort(reason);
    await settle(); // no timer advanced: the wait ends on the abort itself
    expect(await seen).toBe(reason);
    expect(vi.getTimerCount()).toBe(0); // the wait's timer was cleared
    await vi.advanceTimersByTimeAsync(60_000);
    expect(attempt).toHaveBeenCalledTimes(1);
  });

  it('an abort without a reason rejects with the signal\'s AbortError', async () => {
    const attempt = scripted([transient('a', 10_000)], 'never');
    const ctl = new AbortController();
    const seen = withRetries('m', attempt, { maxAttempts: 5 }, { signal: ctl.signal }).catch((e: unknown) => e);
    await settle();
    ctl.abort();
    await settle();
    expect(await seen).toBe(ctl.signal.reason);
    expect((await seen as Error).name).toBe('AbortError');
  });

  it('a failure after the signal aborted is rethrown untouched (no retry)', async () => {
    const ctl = new AbortController();
    const err = transient('late');
    const attempt = vi.fn(async () => {
      ctl.abort(new CancelledError());
      throw err;
    });
    const onRetry = vi.fn();
    await expect(withRetries('m', attempt, { maxAttempts: 5 }, { signal: ctl.signal, onRetry })).rejects.toBe(err);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it.each([
    ['a plain Error', new Error('plain')],
    ['a non-retriable ProviderError (400)', new ProviderError('BAD_REQUEST', 'HTTP 400: bad', false, { provider: 'p', model: 'm', status: 400 })],
    ['a ValidationError', new ValidationError('LLM_OUTPUT_INVALID', 'bad output', [{ code: 'invalid_json', path: ['text'], message: 'no' }])],
    ['an object with retriable: false', { retriable: false, message: 'nope' }],
    ['a string', 'just a string'],
  ])('%s is thrown untouched after one attempt', async (_, error) => {
    const attempt = scripted([error], 'never');
    const onRetry = vi.fn();
    const budget = { remaining: 3 };
    await expect(withRetries('m', attempt, { maxAttempts: 5 }, { signal: new AbortController().signal, budget, onRetry })).rejects.toBe(error);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
    expect(budget.remaining).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the retriable hook decides instead of the error\'s flag', async () => {
    const flagged = transient('flagged');
    const attempt = scripted([flagged], 'never');
    await expect(withRetries('m', attempt, { maxAttempts: 5 }, { signal: new AbortController().signal, retriable: () => false })).rejects.toBe(flagged);
    expect(attempt).toHaveBeenCalledTimes(1);
    const plain = new Error('plain but retried');
    const { outcome } = await (async () => {
      const ctl = new AbortController();
      const p = withRetries('m', scripted([plain], 'ok'), { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 }, { signal: ctl.signal, retriable: () => true })
        .then((value) => ({ value }));
      await vi.runAllTimersAsync();
      return { outcome: await p };
    })();
    expect(outcome).toEqual({ value: 'ok' });
  });

  it('maxAttempts 1 surfaces the original retriable error, not a RetriesExhaustedError', async () => {
    const err = transient('once', 5);
    const attempt = scripted([err], 'never');
    const onRetry = vi.fn();
    await expect(withRetries('m', attempt, { maxAttempts: 1 }, { signal: new AbortController().signal, onRetry })).rejects.toBe(err);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('RetriesExhaustedError: attempts === maxAttempts and the cause is the last failure', async () => {
    const errors = [transient('first'), transient('second'), transient('third'), transient('fourth')];
    const attempt = scripted(errors, 'never');
    const { outcome, retries } = await runToEnd(attempt, { maxAttempts: 4, initialDelayMs: 1, maxDelayMs: 2 });
    expect(outcome.ok).toBe(false);
    const e = (outcome as { error: unknown }).error as RetriesExhaustedError;
    expect(e).toBeInstanceOf(RetriesExhaustedError);
    expect(e.code).toBe('RETRIES_EXHAUSTED');
    expect(e.attempts).toBe(4);
    expect(e.cause).toBe(errors[3]);
    expect(e.message).toContain('gave up after 4 attempts (attempts exhausted)');
    expect(e.message).toContain('fourth');
    expect(attempt).toHaveBeenCalledTimes(4);
    expect(retries.map((r) => r.attempt)).toEqual([2, 3, 4]);
    expect(retries.map((r) => r.error)).toEqual(errors.slice(0, 3));
  });

  it('the default is 3 attempts', async () => {
    const attempt = scripted([transient(), transient(), transient()], 'never');
    const { outcome } = await runToEnd(attempt, { initialDelayMs: 1, maxDelayMs: 1 });
    expect((outcome as { error: RetriesExhaustedError }).error.attempts).toBe(3);
    expect(attempt).toHaveBeenCalledTimes(3);
  });
});

describe('withRetries: retry budget', () => {
  it('spends one unit per retry (not for the first attempt or a success)', async () => {
    const budget = { remaining: 10 };
    const { outcome } = await runToEnd(scripted([transient(), transient()], 'ok'), { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 1 }, budget);
    expect(outcome).toEqual({ ok: true, value: 'ok' });
    expect(budget.remaining).toBe(8);
    await runToEnd(scripted([], 'ok'), { maxAttempts: 5 }, budget);
    expect(budget.remaining).toBe(8);
  });

  it('is shared by calls: when it is spent the next failure gives up, naming the budget', async () => {
    const budget = { remaining: 3 };
    await runToEnd(scripted([transient(), transient()], 'ok'), { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 1 }, budget);
    expect(budget.remaining).toBe(1);
    const errors = [transient('x1'), transient('x2'), transient('x3')];
    const attempt = scripted(errors, 'never');
    const { outcome, retries } = await runToEnd(attempt, { maxAttempts: 10, initialDelayMs: 1, maxDelayMs: 1 }, budget);
    const e = (outcome as { error: RetriesExhaustedError }).error;
    expect(e).toBeInstanceOf(RetriesExhaustedError);
    expect(e.attempts).toBe(2);
    expect(e.cause).toBe(errors[1]);
    expect(e.message).toContain('retry budget is spent');
    expect(retries).toHaveLength(1);
    expect(attempt).toHaveBeenCalledTimes(2);
    expect(budget.remaining).toBe(0);
  });

  it('an empty budget turns the first retriable failure into RetriesExhaustedError (attempts 1)', async () => {
    const err = transient('first');
    const { outcome } = await runToEnd(scripted([err], 'never'), { maxAttempts: 10 }, { remaining: 0 });
    const e = (outcome as { error: RetriesExhaustedError }).error;
    expect(e.attempts).toBe(1);
    expect(e.cause).toBe(err);
    expect(e.message).toContain('budget');
  });
});
