// Unit tests of the attempt loop shared by the transports: backoff doubles and is capped, reasons carry
// engine error codes, the outcome says how many attempts failed and why.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OrchestratorError } from '../errors.ts';
import { backoffMs, reasonOf, runAttempts } from './attempts.ts';

describe('attempts', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('backoff doubles from the base and is capped at 5 s (or at the base when larger)', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(200, n))).toEqual([200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(backoffMs(8000, 3)).toBe(8000);
  });

  it('a reason names the code of engine errors', () => {
    expect(reasonOf(new OrchestratorError('KAFKA_FAILED', 'broker gone'))).toBe('KAFKA_FAILED: broker gone');
    expect(reasonOf(new Error('plain'))).toBe('plain');
    expect(reasonOf('text')).toBe('text');
  });

  it('stops at the first success; after maxAttempts failures says why, having reported each', async () => {
    vi.useFakeTimers();
    const failures: string[] = [];
    let calls = 0;
    const env = { key: 'k', value: 1, partition: 0, offset: '3' };
    const failing = runAttempts(env, async () => { calls++; throw new Error(`no ${calls}`); }, { maxAttempts: 2, retryBackoffMs: 100, handlerTimeoutMs: undefined }, (n, r) => failures.push(`${n}:${r}`));
    await vi.advanceTimersByTimeAsync(100);
    expect(await failing).toEqual({ ok: false, reason: 'handler failed 2 times: no 2' });
    expect(failures).toEqual(['1:no 1', '2:no 2']);
    const ok = await runAttempts(env, async (_m, { attempt }) => { expect(attempt).toBe(1); }, { maxAttempts: 2, retryBackoffMs: 100, handlerTimeoutMs: undefined }, () => undefined);
    expect(ok).toEqual({ ok: true });
  });

  it('a non-retriable engine error ends the attempts at once (the same work cannot succeed); a retriable one is tried again', async () => {
    vi.useFakeTimers();
    const env = { key: 'k', value: 1, partition: 0, offset: '4' };
    const options = { maxAttempts: 3, retryBackoffMs: 100, handlerTimeoutMs: undefined };
    const failures: string[] = [];
    let calls = 0;
    const refused = await runAttempts(env, async () => {
      calls++;
      throw new OrchestratorError('RESULT_TOO_LARGE', 'too large', { retriable: false });
    }, options, (n, r) => failures.push(`${n}:${r}`));
    expect(refused).toEqual({ ok: false, reason: 'handler failed (not retriable): RESULT_TOO_LARGE: too large' });
    expect(calls).toBe(1);
    expect(failures).toEqual(['1:RESULT_TOO_LARGE: too large']);
    calls = 0;
    const transient = runAttempts(env, async () => {
      calls++;
      throw new OrchestratorError('KAFKA_UNAVAILABLE', 'broker away', { retriable: true });
    }, options, () => undefined);
    await vi.advanceTimersByTimeAsync(300);
    expect(await transient).toEqual({ ok: false, reason: 'handler failed 3 times: KAFKA_UNAVAILABLE: broker away' });
    expect(calls).toBe(3);
  });
});
