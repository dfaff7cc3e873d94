/**
 * RateLimiter: requests- and tokens-per-minute, reconciliation with real usage,
 * pauses from provider headers, aborts, and the limits seen end to end through
 * an engine. Everything runs on virtual time (vi.useFakeTimers()); nothing
 * asserts a wall-clock duration.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { isCancelledError } from '../errors.ts';
import { createEngine, topology } from '../index.ts';
import { createModels } from './models.ts';
import { RateLimiter, type Reservation } from './ratelimit.ts';
import { createSimProvider } from './sim.ts';
import { countTextTokens } from './tokens.ts';
import type { Provider } from './types.ts';

const MINUTE = 60_000;

beforeAll(async () => {
  // The llm operator counts prompt tokens before acquiring: load the tokenizer with real timers first.
  await countTextTokens('warm up');
});

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Starts `n` acquires at once; records the virtual time of each grant. */
function acquireMany(limiter: RateLimiter, n: number, tokens = 1): { grants: number[]; reservations: Reservation[]; all: Promise<Reservation[]> } {
  const grants: number[] = [];
  const reservations: Reservation[] = [];
  const all = Promise.all(
    Array.from({ length: n }, () =>
      limiter.acquire(tokens).then((r) => {
        grants.push(Date.now());
        reservations.push(r);
        return r;
      }),
    ),
  );
  return { grants, reservations, all };
}

/** Grants in each fixed virtual minute [k·60 s, (k+1)·60 s). */
function perMinute(times: readonly number[]): number[] {
  const out: number[] = [];
  for (const t of times) {
    const k = Math.floor(t / MINUTE);
    out[k] = (out[k] ?? 0) + 1;
  }
  return Array.from(out, (x) => x ?? 0);
}

/** Most grants in any sliding window [t, t + 60 s). */
function maxInAnyMinute(times: readonly number[]): number {
  const s = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (s[j]! < s[i]! - MINUTE + 1) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

/** True when the promise has settled (after draining microtasks). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => { done = true; }, () => { done = true; });
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

// ---------------------------------------------------------------- rpm / tpm

describe('RateLimiter: requests per minute', () => {
  it('bursts up to rpm at once, then grants one request every 60 s / rpm, in order', async () => {
    const limiter = new RateLimiter({ rpm: 10 });
    const { grants, all } = acquireMany(limiter, 30);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10);
    expect(limiter.waiting).toBe(20);
    await vi.advanceTimersByTimeAsync(6_000 - 1);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(1);
    expect(grants).toHaveLength(11);
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    await all;
    expect(grants).toHaveLength(30);
    expect(limiter.waiting).toBe(0);
    // after the burst: exactly one grant every 6 s
    const after = grants.slice(10);
    expect(after).toEqual(Array.from({ length: 20 }, (_, k) => (k + 1) * 6_000));
    // long-run rate: in any window of 60 s, at most the burst plus one minute's refill
    expect(maxInAnyMinute(grants)).toBeLessThanOrEqual(2 * 10 - 1);
  });

  // BUG: "rpm: 10" is not "at most 10 requests per minute". The bucket starts full (a burst of rpm
  // requests at t=0) and also refills continuously at rpm/min, so the first virtual minute grants
  // 10 + 9 = 19 requests (t=0 ×10, then t=6 s … 54 s), and any 60 s window can hold 2·rpm − 1.
  // A provider enforcing its RPM over a minute window answers the surplus with 429s.
  it.fails('never grants more than rpm requests in any virtual minute', async () => {
    const limiter = new RateLimiter({ rpm: 10 });
    const { grants, all } = acquireMany(limiter, 30);
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    await all;
    expect(perMinute(grants).every((n) => n <= 10)).toBe(true);
    expect(maxInAnyMinute(grants)).toBeLessThanOrEqual(10);
  });

  it('an idle bucket refills, but never beyond rpm', async () => {
    const limiter = new RateLimiter({ rpm: 6 });
    await acquireMany(limiter, 6).all; // empties the bucket
    await vi.advanceTimersByTimeAsync(10 * MINUTE); // long idle
    const { grants } = acquireMany(limiter, 10);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(6);
  });
});

describe('RateLimiter: tokens per minute', () => {
  it('bursts up to tpm, then grants as tokens refill', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const { grants, all } = acquireMany(limiter, 30, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(6_000 - 1);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(1);
    expect(grants).toHaveLength(11);
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    await all;
    expect(grants.slice(10)).toEqual(Array.from({ length: 20 }, (_, k) => (k + 1) * 6_000));
    // tokens granted in any window of 60 s: at most the bucket plus one minute's refill
    expect(maxInAnyMinute(grants) * 100).toBeLessThanOrEqual(2 * 1_000 - 100);
  });

  it('rpm and tpm both hold: the tighter one decides', async () => {
    const limiter = new RateLimiter({ rpm: 100, tpm: 600 });
    const { grants, all } = acquireMany(limiter, 12, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(6); // tpm allows 6 × 100 tokens, rpm would allow 12
    await vi.advanceTimersByTimeAsync(10_000);
    expect(grants).toHaveLength(7); // 100 tokens refill in 10 s
    await vi.advanceTimersByTimeAsync(MINUTE);
    await all;
    expect(grants).toHaveLength(12);
  });

  it('a request larger than tpm is clamped to tpm (it can still run, alone)', async () => {
    const limiter = new RateLimiter({ tpm: 500 });
    const r = await limiter.acquire(5_000);
    expect(r.tokens).toBe(500);
    const next = limiter.acquire(1);
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(120);
    expect(await settled(next)).toBe(true);
  });

  it('waiters are served in order: a large head request is not overtaken by small ones', async () => {
    const limiter = new RateLimiter({ tpm: 600 });
    await limiter.acquire(600);
    const order: string[] = [];
    const big = limiter.acquire(300).then(() => order.push('big'));
    const small = limiter.acquire(10).then(() => order.push('small'));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(order).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_010);
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });
});

// ---------------------------------------------------------------- reconciliation

describe('RateLimiter: reservations reconciled with real usage', () => {
  it('an underestimate becomes debt that delays later requests', async () => {
    const accurate = new RateLimiter({ tpm: 600 }); // 10 tokens per second
    const under = new RateLimiter({ tpm: 600 });
    accurate.settle(await accurate.acquire(600), 600);
    under.settle(await under.acquire(600), 1_200); // really used 600 more than reserved
    const a = accurate.acquire(60);
    const u = under.acquire(60);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(await settled(a)).toBe(true); // 60 tokens refill in 6 s
    expect(await settled(u)).toBe(false); // must first pay back 600 tokens
    await vi.advanceTimersByTimeAsync(60_000 - 1);
    expect(await settled(u)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(u)).toBe(true); // (600 debt + 60) / 10 per s = 66 s
    expect(Date.now()).toBe(66_000);
  });

  it('an overestimate gives the unused tokens back at once', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const r = await limiter.acquire(1_000);
    const next = limiter.acquire(700);
    expect(await settled(next)).toBe(false);
    limiter.settle(r, 200); // 800 tokens were not used
    expect(await settled(next)).toBe(true);
    expect(Date.now()).toBe(0);
  });

  it('settling wakes a waiter whose head is already due', async () => {
    const limiter = new RateLimiter({ tpm: 100 });
    const r = await limiter.acquire(100);
    const next = limiter.acquire(100);
    limiter.settle(r, 0);
    expect(await settled(next)).toBe(true);
  });
});

// ---------------------------------------------------------------- provider headers

describe('RateLimiter: pauses from the provider', () => {
  it('observe({ retryAfterMs }) pauses every request until then', async () => {
    const limiter = new RateLimiter({ rpm: 1_000 });
    await limiter.acquire(1);
    limiter.observe({ retryAfterMs: 5_000 });
    const { grants, all } = acquireMany(limiter, 3);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(grants).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await all;
    expect(grants).toEqual([5_000, 5_000, 5_000]);
  });

  it('a shorter retry-after does not shorten a longer pause', async () => {
    const limiter = new RateLimiter({ rpm: 1_000 });
    limiter.observe({ retryAfterMs: 5_000 });
    limiter.observe({ retryAfterMs: 1_000 });
    const p = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(p)).toBe(true);
  });

  it('remaining requests = 0 pauses until the request reset', async () => {
    const limiter = new RateLimiter({ rpm: 1_000 });
    limiter.observe({ remainingRequests: 0, resetRequestsMs: 2_000 });
    const p = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(1_999);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(p)).toBe(true);
  });

  it('remaining tokens = 0 pauses until the token reset', async () => {
    const limiter = new RateLimiter({ tpm: 1_000_000 });
    limiter.observe({ remainingTokens: 0, resetTokensMs: 3_000, remainingRequests: 5, resetRequestsMs: 9_000 });
    const p = limiter.acquire(10);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(p)).toBe(true);
  });

  it('remaining > 0, or remaining = 0 with no reset, does not pause', async () => {
    const limiter = new RateLimiter({ rpm: 1_000 });
    limiter.observe({ remainingRequests: 3, resetRequestsMs: 60_000 });
    limiter.observe({ remainingTokens: 0 });
    limiter.observe({});
    expect(await settled(limiter.acquire(1))).toBe(true);
  });

  it('pauses a limiter with no configured limits too', async () => {
    const limiter = new RateLimiter({});
    limiter.observe({ retryAfterMs: 1_000 });
    const p = limiter.acquire(1);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await settled(p)).toBe(true);
  });
});

// ---------------------------------------------------------------- abort

describe('RateLimiter: abort', () => {
  it('aborting a waiter rejects it and frees its place in the queue', async () => {
    const limiter = new RateLimiter({ rpm: 1 });
    await limiter.acquire(1);
    const ac = new AbortController();
    const reason = new Error('user gave up');
    const aborted = limiter.acquire(1, ac.signal);
    const third = limiter.acquire(1);
    expect(limiter.waiting).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    ac.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(limiter.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(MINUTE - 10_000 - 1);
    expect(await settled(third)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(third)).toBe(true); // took the aborted waiter's turn: at 60 s, not 120 s
    expect(Date.now()).toBe(MINUTE);
    expect(limiter.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already aborted signal rejects at once when it would have to wait', async () => {
    const limiter = new RateLimiter({ rpm: 1 });
    await limiter.acquire(1);
    const ac = new AbortController();
    ac.abort();
    await expect(limiter.acquire(1, ac.signal)).rejects.toBeDefined();
    expect(limiter.waiting).toBe(0);
  });

  it('an abort with no reason rejects with a CancelledError', async () => {
    const limiter = new RateLimiter({ rpm: 1 });
    await limiter.acquire(1);
    const signal = { aborted: false, reason: undefined, listeners: [] as (() => void)[] } as unknown as AbortSignal & { listeners: (() => void)[] };
    (signal as unknown as { addEventListener: (t: string, f: () => void) => void }).addEventListener = (_t, f) => signal.listeners.push(f);
    (signal as unknown as { removeEventListener: () => void }).removeEventListener = () => undefined;
    const p = limiter.acquire(1, signal);
    signal.listeners.forEach((f) => f());
    await expect(p).rejects.toSatisfy(isCancelledError);
    expect(limiter.waiting).toBe(0);
  });

  it('aborting the head waiter lets the next one be granted when it is due', async () => {
    const limiter = new RateLimiter({ tpm: 600 });
    await limiter.acquire(600);
    const ac = new AbortController();
    const head = limiter.acquire(600, ac.signal); // would wait 60 s
    const small = limiter.acquire(60); // due at 6 s once the head is gone
    await vi.advanceTimersByTimeAsync(1_000);
    ac.abort(new Error('gone'));
    await expect(head).rejects.toThrow('gone');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await settled(small)).toBe(true);
    expect(Date.now()).toBe(6_000);
  });
});

// ---------------------------------------------------------------- end to end

describe('rate limits end to end', () => {
  const t = topology('rl-e2e', { input: z.number() })
    .llm('ask', { model: 'sim:fast', maxTokens: 5, prompt: ({ input }) => `question ${input}` })
    .build({ output: 'ask' });

  /** An engine whose sim provider records the virtual time each request starts. */
  function limitedEngine(rpm: number) {
    const sim = createSimProvider();
    const starts: number[] = [];
    const provider: Provider = {
      name: 'sim',
      simulated: true,
      stream: (req, signal) => {
        starts.push(Date.now());
        return sim.stream(req, signal);
      },
    };
    const engine = createEngine({ models: createModels({ providers: [provider], rateLimits: { 'sim:fast': { rpm } } }) });
    return { engine, starts };
  }

  it('30 concurrent runs on a model limited to rpm 10 all complete, at the bucket rate', async () => {
    const { engine, starts } = limitedEngine(10);
    const runs = Promise.all(Array.from({ length: 30 }, (_, i) => engine.run(t, i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(starts).toHaveLength(11);
    await vi.advanceTimersByTimeAsync(5 * MINUTE);
    const results = await runs;
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(starts).toHaveLength(30);
    expect(Math.max(...starts)).toBe(20 * 6_000);
    expect(maxInAnyMinute(starts)).toBeLessThanOrEqual(2 * 10 - 1);
    expect(engine.inFlight).toBe(0);
  });

  // BUG: same as the RateLimiter rpm bug above, seen through the engine: with rateLimits
  // { 'sim:fast': { rpm: 10 } }, 19 requests start in the first virtual minute (10 at t=0, then
  // one every 6 s), not at most 10.
  it.fails('30 concurrent runs with rpm 10: never more than 10 requests start per virtual minute', async () => {
    const { engine, starts } = limitedEngine(10);
    const runs = Promise.all(Array.from({ length: 30 }, (_, i) => engine.run(t, i)));
    await vi.advanceTimersByTimeAsync(10 * MINUTE);
    const results = await runs;
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(perMinute(starts).every((n) => n <= 10)).toBe(true);
    expect(maxInAnyMinute(starts)).toBeLessThanOrEqual(10);
  });

  it('the limiter is shared by every run and topology using the model, and a cancelled waiting run frees its turn', async () => {
    const { engine, starts } = limitedEngine(1);
    const other = topology('rl-other').llm('x', { model: 'sim:fast', maxTokens: 2, prompt: () => 'other' }).build({ output: 'x' });
    const first = engine.run(t, 1);
    const ac = new AbortController();
    const cancelled = engine.run(other, undefined, { signal: ac.signal });
    const third = engine.run(t, 3);
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toEqual([0]);
    expect((await first).status).toBe('completed');
    ac.abort();
    expect((await cancelled).status).toBe('cancelled');
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect((await third).status).toBe('completed');
    expect(starts).toEqual([0, MINUTE]);
  });

  it('a provider-level limit applies to every model of the provider', async () => {
    const sim = createSimProvider();
    const starts: string[] = [];
    const provider: Provider = { name: 'sim', simulated: true, stream: (req, signal) => { starts.push(req.model); return sim.stream(req, signal); } };
    const engine = createEngine({ models: createModels({ providers: [provider], rateLimits: { sim: { rpm: 2 } } }) });
    const mk = (model: string) => topology(`rl-${model}`).llm('x', { model, maxTokens: 2, prompt: () => 'p' }).build({ output: 'x' });
    const runs = Promise.all([engine.run(mk('sim:fast'), undefined), engine.run(mk('sim:other'), undefined), engine.run(mk('sim:third'), undefined)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(30_000);
    await runs;
    expect(starts).toHaveLength(3);
  });
});
