/**
 * RateLimiter: requests- and tokens-per-minute over sliding 60 s windows,
 * reconciliation with real usage, pauses from provider headers, aborts, and the
 * limits seen end to end through an engine. Everything runs on virtual time
 * (vi.useFakeTimers()); nothing asserts a wall-clock duration.
 */
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../index.ts';
import { createModels } from './models.ts';
import { RateLimiter, type Reservation } from './ratelimit.ts';
import { createSimProvider } from './sim.ts';
import type { Provider } from './types.ts';

const MINUTE = 60_000;


beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Starts `n` acquires at once; records the virtual time of each grant and the order (by index) they were granted in. */
function acquireMany(limiter: RateLimiter, n: number, tokens = 1): { grants: number[]; order: number[]; reservations: Reservation[]; all: Promise<Reservation[]> } {
  const grants: number[] = [];
  const order: number[] = [];
  const reservations: Reservation[] = [];
  const all = Promise.all(
    Array.from({ length: n }, (_, i) =>
      limiter.acquire(tokens).then((r) => {
        grants.push(Date.now());
        order.push(i);
        reservations.push(r);
        return r;
      }),
    ),
  );
  return { grants, order, reservations, all };
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

/**
 * Most grants in any sliding window (t − 60 s, t]: a grant made at `at` is still
 * in the window at `at + 59 999` and gone at `at + 60 000`.
 */
function maxInAnyMinute(times: readonly number[]): number {
  return maxTokensInAnyMinute(times.map((at) => ({ at, tokens: 1 })));
}

/** Most tokens granted in any sliding window (t − 60 s, t]. */
function maxTokensInAnyMinute(grants: readonly { at: number; tokens: number }[]): number {
  const s = [...grants].sort((a, b) => a.at - b.at);
  let best = 0;
  let sum = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    sum += s[i]!.tokens;
    while (s[j]!.at <= s[i]!.at - MINUTE) sum -= s[j++]!.tokens;
    best = Math.max(best, sum);
  }
  return best;
}

/**
 * Reference model of the limiter when every reservation is exact: requests are
 * served in arrival order, each at the first moment from its arrival (and its
 * predecessor's grant) on when the sliding window holds fewer than `rpm` grants
 * and room for its tokens (clamped to `tpm`; a clamped request waits for an
 * empty window).
 */
function expectedGrants(requests: readonly { at: number; tokens: number }[], rpm: number, tpm: number): number[] {
  const out: number[] = [];
  const taken: number[] = [];
  requests.forEach((req, i) => {
    const want = Math.min(req.tokens, tpm);
    let t = Math.max(req.at, out[i - 1] ?? 0);
    for (;;) {
      const inWindow = out.flatMap((at, j) => (at > t - MINUTE ? [j] : []));
      const tokens = inWindow.reduce((s, j) => s + taken[j]!, 0);
      if (inWindow.length < rpm && (inWindow.length === 0 || tokens + want <= tpm)) break;
      t = Math.min(...inWindow.map((j) => out[j]! + MINUTE)); // the next moment a grant leaves the window
    }
    out.push(t);
    taken.push(want);
  });
  return out;
}

/** A small deterministic pseudo-random generator (LCG) for reproducible schedules. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
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
  it('grants up to rpm at once, then only as earlier grants leave the 60 s window, in order', async () => {
    const limiter = new RateLimiter({ rpm: 10 });
    const { grants, order, all } = acquireMany(limiter, 30);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10);
    expect(limiter.waiting).toBe(20);
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(grants).toHaveLength(10); // the first ten are still in the window at 59 999 ms
    await vi.advanceTimersByTimeAsync(1);
    expect(grants).toHaveLength(20); // ... and all leave it at 60 000 ms
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    await all;
    expect(limiter.waiting).toBe(0);
    expect(grants).toEqual([...Array<number>(10).fill(0), ...Array<number>(10).fill(MINUTE), ...Array<number>(10).fill(2 * MINUTE)]);
    expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(maxInAnyMinute(grants)).toBe(10);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a grant leaves the window exactly 60 s after it was made', async () => {
    const limiter = new RateLimiter({ rpm: 1 });
    await vi.advanceTimersByTimeAsync(1_234);
    await limiter.acquire(1);
    const next = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(next)).toBe(true);
    expect(Date.now()).toBe(1_234 + MINUTE);
  });

  it('never grants more than rpm requests in any 60 s window, aligned to the minute or not', async () => {
    const limiter = new RateLimiter({ rpm: 10 });
    const first = acquireMany(limiter, 5); // t = 0
    await vi.advanceTimersByTimeAsync(30_000);
    const second = acquireMany(limiter, 5); // t = 30 s
    await vi.advanceTimersByTimeAsync(15_000);
    const rest = acquireMany(limiter, 20); // t = 45 s: the window (−15 s, 45 s] already holds 10
    await vi.advanceTimersByTimeAsync(0);
    expect(first.grants).toEqual(Array<number>(5).fill(0));
    expect(second.grants).toEqual(Array<number>(5).fill(30_000));
    expect(rest.grants).toEqual([]);
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    await Promise.all([first.all, second.all, rest.all]);
    // each batch of 5 frees its places exactly 60 s after it was granted
    expect(rest.grants).toEqual([60_000, 90_000, 120_000, 150_000].flatMap((at) => Array<number>(5).fill(at)));
    const all = [...first.grants, ...second.grants, ...rest.grants];
    expect(perMinute(all).every((n) => n <= 10)).toBe(true);
    expect(maxInAnyMinute(all)).toBe(10);
  });

  it('an idle limiter grants rpm requests at once again, never more', async () => {
    const limiter = new RateLimiter({ rpm: 6 });
    await acquireMany(limiter, 6).all; // fills the window
    await vi.advanceTimersByTimeAsync(10 * MINUTE); // long idle
    const { grants } = acquireMany(limiter, 10);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toEqual(Array<number>(6).fill(10 * MINUTE));
  });
});

describe('RateLimiter: tokens per minute', () => {
  it('grants up to tpm at once, then only as earlier grants leave the window', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const { grants, reservations, all } = acquireMany(limiter, 30, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(1);
    expect(grants).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(2 * MINUTE);
    await all;
    expect(perMinute(grants)).toEqual([10, 10, 10]);
    expect(maxTokensInAnyMinute(grants.map((at, i) => ({ at, tokens: reservations[i]!.tokens })))).toBe(1_000);
  });

  it('a request waits until enough tokens have left the window, oldest grants first', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    await limiter.acquire(400); // t = 0
    await vi.advanceTimersByTimeAsync(10_000);
    await limiter.acquire(400); // t = 10 s: 800 in the window
    await vi.advanceTimersByTimeAsync(10_000);
    const a = limiter.acquire(400); // t = 20 s: fits once the 400 of t = 0 leave (60 s)
    const b = limiter.acquire(300); // then 400 + 400 + 300 > 1000: also needs the 400 of t = 10 s gone (70 s)
    await vi.advanceTimersByTimeAsync(MINUTE - 20_000 - 1);
    expect(await settled(a)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(a)).toBe(true);
    expect(Date.now()).toBe(MINUTE);
    expect(await settled(b)).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000 - 1);
    expect(await settled(b)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(b)).toBe(true);
    expect(Date.now()).toBe(70_000);
  });

  it('rpm and tpm both hold: the tighter one decides', async () => {
    const limiter = new RateLimiter({ rpm: 100, tpm: 600 });
    const { grants, all } = acquireMany(limiter, 12, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(6); // tpm allows 6 × 100 tokens, rpm would allow 12
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(grants).toHaveLength(6);
    await vi.advanceTimersByTimeAsync(1);
    await all;
    expect(grants).toEqual([...Array<number>(6).fill(0), ...Array<number>(6).fill(MINUTE)]);

    const byRequests = new RateLimiter({ rpm: 2, tpm: 1_000 });
    const few = acquireMany(byRequests, 4, 10); // tpm would allow all 4
    await vi.advanceTimersByTimeAsync(MINUTE);
    await few.all;
    expect(few.grants).toEqual([MINUTE, MINUTE, 2 * MINUTE, 2 * MINUTE]);
  });

  it('a waiter needs both a free request and room for its tokens', async () => {
    const limiter = new RateLimiter({ rpm: 2, tpm: 1_000 });
    await limiter.acquire(100); // t = 0
    await vi.advanceTimersByTimeAsync(30_000);
    await limiter.acquire(900); // t = 30 s: 2 requests and 1000 tokens in the window
    await vi.advanceTimersByTimeAsync(10_000);
    const p = limiter.acquire(200); // t = 40 s: a request is free at 60 s, but 900 + 200 > 1000 until 90 s
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(30_000 - 1);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(p)).toBe(true);
    expect(Date.now()).toBe(90_000);

    await limiter.acquire(10); // t = 90 s: 2 requests, 210 tokens
    const q = limiter.acquire(10); // tokens fit at once, a request only at 150 s
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(await settled(q)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(q)).toBe(true);
    expect(Date.now()).toBe(150_000);
  });

  it.each([
    { seed: 1, rpm: 4, tpm: 1_000 },
    { seed: 2, rpm: 100, tpm: 1_000 },
    { seed: 3, rpm: 3, tpm: Infinity },
    { seed: 4, rpm: 5, tpm: 800 },
  ])('matches the sliding-window model on a pseudo-random schedule (seed $seed, rpm $rpm, tpm $tpm)', async ({ seed, rpm, tpm }) => {
    const rand = lcg(seed);
    let at = 0;
    const requests = Array.from({ length: 40 }, (_, i) => {
      at += Math.floor(rand() * 12_000);
      return { at, tokens: i % 13 === 7 ? 5_000 : 1 + Math.floor(rand() * 450) }; // a few larger than tpm
    });
    const limiter = new RateLimiter(Number.isFinite(tpm) ? { rpm, tpm } : { rpm });
    const granted: { at: number; tokens: number }[] = [];
    const order: number[] = [];
    const done = requests.map(
      (req, i) =>
        new Promise<void>((resolve) => {
          setTimeout(() => {
            void limiter.acquire(req.tokens).then((r) => {
              granted[i] = { at: Date.now(), tokens: r.tokens };
              order.push(i);
              resolve();
            });
          }, req.at);
        }),
    );
    await vi.advanceTimersByTimeAsync(30 * MINUTE);
    await Promise.all(done);
    expect(order).toEqual(requests.map((_, i) => i));
    expect(granted.map((g) => g.at)).toEqual(expectedGrants(requests, rpm, tpm));
    expect(granted.map((g) => g.tokens)).toEqual(requests.map((r) => Math.min(r.tokens, tpm)));
    expect(maxInAnyMinute(granted.map((g) => g.at))).toBeLessThanOrEqual(rpm);
    // tpm holds in every window, except for a clamped request, which runs alone
    for (let i = 0; i < granted.length; i++) {
      const inWindow = granted.filter((g) => g.at > granted[i]!.at - MINUTE && g.at <= granted[i]!.at);
      if (inWindow.length > 1) expect(inWindow.reduce((s, g) => s + g.tokens, 0)).toBeLessThanOrEqual(tpm);
    }
    expect(limiter.waiting).toBe(0);
  });

  it('a request larger than tpm is clamped to tpm and runs alone, once the window is empty', async () => {
    const limiter = new RateLimiter({ tpm: 500 });
    const r = await limiter.acquire(5_000); // the window is empty: granted at once
    expect(r.tokens).toBe(500);
    expect(Date.now()).toBe(0);
    const next = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(await settled(next)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(next)).toBe(true); // t = 60 s
    await vi.advanceTimersByTimeAsync(30_000);
    await limiter.acquire(10); // t = 90 s: 11 tokens in the window
    const big = limiter.acquire(1_000_000); // clamped to 500: waits for both grants to leave (150 s)
    await vi.advanceTimersByTimeAsync(MINUTE - 1); // t = 149 999: the grant of 60 s left at 120 s, the one of 90 s has not
    expect(await settled(big)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(big)).toBe(true);
    expect(Date.now()).toBe(150_000);
    expect((await big).tokens).toBe(500);
  });

  it('waiters are served in order: a large head request is not overtaken by small ones', async () => {
    const limiter = new RateLimiter({ tpm: 600 });
    await limiter.acquire(300); // t = 0
    await vi.advanceTimersByTimeAsync(10_000);
    await limiter.acquire(250); // t = 10 s: 550 in the window
    await vi.advanceTimersByTimeAsync(10_000);
    const order: string[] = [];
    const big = limiter.acquire(300).then(() => order.push(`big@${Date.now()}`)); // t = 20 s: needs the 300 of t = 0 gone
    const small = limiter.acquire(10).then(() => order.push(`small@${Date.now()}`)); // would fit now, but waits its turn
    await vi.advanceTimersByTimeAsync(10_000);
    const late = limiter.acquire(1).then(() => order.push(`late@${Date.now()}`)); // t = 30 s: still behind them
    await vi.advanceTimersByTimeAsync(MINUTE - 30_000 - 1);
    expect(order).toEqual([]);
    expect(limiter.waiting).toBe(3);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all([big, small, late]);
    expect(order).toEqual(['big@60000', 'small@60000', 'late@60000']); // 250 + 300 + 10 + 1 ≤ 600
  });
});

// ---------------------------------------------------------------- reconciliation

describe('RateLimiter: reservations reconciled with real usage', () => {
  it('an underestimate is debt that delays later requests until that grant leaves the window', async () => {
    const accurate = new RateLimiter({ tpm: 600 });
    const under = new RateLimiter({ tpm: 600 });
    accurate.settle(await accurate.acquire(100), 100); // t = 0
    under.settle(await under.acquire(100), 100);
    await vi.advanceTimersByTimeAsync(20_000);
    accurate.settle(await accurate.acquire(100), 100); // t = 20 s
    under.settle(await under.acquire(100), 700); // really used 600 more than reserved: 800 in the window
    await vi.advanceTimersByTimeAsync(10_000);
    const a = accurate.acquire(100); // t = 30 s
    const u = under.acquire(100);
    expect(await settled(a)).toBe(true); // 200 + 100 ≤ 600
    expect(await settled(u)).toBe(false); // 800 + 100 > 600
    await vi.advanceTimersByTimeAsync(MINUTE - 30_000);
    expect(await settled(u)).toBe(false); // t = 60 s: the grant of t = 0 left, the debt of t = 20 s (700) has not
    await vi.advanceTimersByTimeAsync(20_000 - 1);
    expect(await settled(u)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(u)).toBe(true); // t = 80 s: the underestimated grant left the window, and its debt with it
    expect(Date.now()).toBe(80_000);
    expect(await settled(under.acquire(500))).toBe(true); // only u's 100 remain
  });

  it('settling a grant that already left the window changes nothing', async () => {
    const limiter = new RateLimiter({ tpm: 600 });
    const r = await limiter.acquire(600);
    await vi.advanceTimersByTimeAsync(MINUTE); // the call outlived its grant's window
    limiter.settle(r, 6_000); // no debt: the grant is gone
    expect(await settled(limiter.acquire(600))).toBe(true);
    expect(Date.now()).toBe(MINUTE);

    const s = await limiter.acquire(0); // t = 60 s: 600 + 0 in the window
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(await settled(limiter.acquire(300))).toBe(true); // t = 120 s: both grants have left the window
    limiter.settle(s, 6_000); // ... the 300 just granted has not, and stays the only thing in it
    expect(await settled(limiter.acquire(300))).toBe(true);
    expect(Date.now()).toBe(2 * MINUTE);
  });

  it('an overestimate gives the unused tokens back at once', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const r = await limiter.acquire(1_000);
    const next = limiter.acquire(700);
    expect(await settled(next)).toBe(false);
    limiter.settle(r, 200); // 800 tokens were not used
    expect(await settled(next)).toBe(true);
    expect(Date.now()).toBe(0);
    // only the unused part came back: 200 + 700 leaves room for 100 more, not 101
    expect(await settled(limiter.acquire(100))).toBe(true);
    const over = limiter.acquire(1);
    expect(await settled(over)).toBe(false);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(await settled(over)).toBe(true);
  });

  it('a refund never leaves room for more than tpm tokens in the window', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const r = await limiter.acquire(1_000);
    await vi.advanceTimersByTimeAsync(MINUTE); // the call streams for a minute; its grant leaves the window meanwhile
    limiter.settle(r, 100); // nothing left to give back
    const { grants } = acquireMany(limiter, 20, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(grants).toHaveLength(20);
    expect(perMinute(grants)).toEqual([0, 10, 10]);
    expect(maxInAnyMinute(grants) * 100).toBeLessThanOrEqual(1_000);
  });

  it('a refund settled after other requests filled the window gives nothing back', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const r = await limiter.acquire(1_000);
    await vi.advanceTimersByTimeAsync(MINUTE); // r's grant leaves the window while its call still streams
    const { grants } = acquireMany(limiter, 20, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10); // t = 60 s: the window is full again
    limiter.settle(r, 100); // the long call ends: its 900 unused tokens belong to a window that is gone
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(grants).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(1);
    expect(grants).toHaveLength(20);
  });

  it('a refund inside the window frees exactly the unused tokens', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const r = await limiter.acquire(1_000); // t = 0
    await vi.advanceTimersByTimeAsync(30_000);
    limiter.settle(r, 100); // t = 30 s: 900 come back, 100 stay until 60 s
    const { grants, all } = acquireMany(limiter, 20, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toEqual(Array<number>(9).fill(30_000));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(grants).toHaveLength(10); // t = 60 s: the 100 left with r
    await vi.advanceTimersByTimeAsync(MINUTE);
    await all;
    expect(grants).toEqual([...Array<number>(9).fill(30_000), 60_000, ...Array<number>(9).fill(90_000), 120_000]);
    expect(maxTokensInAnyMinute([{ at: 0, tokens: 100 }, ...grants.map((at) => ({ at, tokens: 100 }))])).toBe(1_000);
  });

  it('a negative actual count settles as 0, never below', async () => {
    const limiter = new RateLimiter({ tpm: 1_000 });
    const r = await limiter.acquire(500);
    limiter.settle(r, -500);
    const { grants } = acquireMany(limiter, 20, 100);
    await vi.advanceTimersByTimeAsync(0);
    expect(grants).toHaveLength(10); // not 15
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

  it('a pause and the window both hold: the later one decides', async () => {
    const limiter = new RateLimiter({ rpm: 1 });
    await limiter.acquire(1); // t = 0
    limiter.observe({ retryAfterMs: 5_000 });
    const p = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(await settled(p)).toBe(false); // the pause ended at 5 s, but the window is full until 60 s
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(p)).toBe(true);
    limiter.observe({ retryAfterMs: 90_000 }); // t = 60 s: paused until 150 s, the window frees at 120 s
    const q = limiter.acquire(1);
    await vi.advanceTimersByTimeAsync(90_000 - 1);
    expect(await settled(q)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(q)).toBe(true);
    expect(Date.now()).toBe(150_000);
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

  it('a granted waiter leaves no abort listener behind', async () => {
    const limiter = new RateLimiter({ rpm: 1 });
    const ac = new AbortController();
    await limiter.acquire(1, ac.signal);
    const next = limiter.acquire(1, ac.signal);
    await vi.advanceTimersByTimeAsync(MINUTE);
    await next;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
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

  it('aborting the head waiter lets the next one be granted when it is due', async () => {
    const limiter = new RateLimiter({ tpm: 600 });
    await limiter.acquire(300); // t = 0
    await vi.advanceTimersByTimeAsync(10_000);
    await limiter.acquire(300); // t = 10 s: 600 in the window
    const ac = new AbortController();
    const head = limiter.acquire(600, ac.signal); // needs an empty window: 70 s
    const small = limiter.acquire(300); // due at 60 s once the head is gone (at 130 s behind it)
    await vi.advanceTimersByTimeAsync(10_000);
    ac.abort(new Error('gone'));
    await expect(head).rejects.toThrow('gone');
    expect(limiter.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(MINUTE - 20_000 - 1);
    expect(await settled(small)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(small)).toBe(true);
    expect(Date.now()).toBe(MINUTE);
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

  it('30 concurrent runs on a model limited to rpm 10 all complete, 10 more each minute', async () => {
    const { engine, starts } = limitedEngine(10);
    const runs = Promise.all(Array.from({ length: 30 }, (_, i) => engine.run(t, i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(starts).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(starts).toHaveLength(10);
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    const results = await runs;
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(starts).toEqual([0, MINUTE, 2 * MINUTE].flatMap((at) => Array<number>(10).fill(at)));
    expect(engine.inFlight).toBe(0);
  });

  it('30 concurrent runs with rpm 10: never more than 10 requests start in any 60 s window', async () => {
    const { engine, starts } = limitedEngine(10);
    const runs = Promise.all(Array.from({ length: 30 }, (_, i) => engine.run(t, i)));
    await vi.advanceTimersByTimeAsync(3 * MINUTE);
    const results = await runs;
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(starts).toHaveLength(30);
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
    await vi.advanceTimersByTimeAsync(MINUTE - 1);
    expect(starts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1 + 1_000); // the third starts at 60 s; sim models other than 'fast' take ~300 ms
    expect(starts).toHaveLength(3);
    expect((await runs).every((r) => r.status === 'completed')).toBe(true);
  });
});
