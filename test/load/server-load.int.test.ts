/**
 * Load on 127.0.0.1 (real sockets, one process, no service needed): 1,000 concurrent
 * Server-Sent-Event clients on one run's stream, every one of which gets every event; then
 * runs submitted at 200 per second for 60 s (POST /v1/runs when the server has it, else the
 * backend directly) while API requests are timed: memory stays bounded (live heap measured
 * after forced GCs, per run submitted; the hub keeps nothing once runs end) and the p50/p99
 * API latencies are printed, never asserted. `LLMO_LOAD_SECONDS` shortens the second phase
 * for a quick local try (default 60). The first phase holds about 2,000 sockets open in this
 * process (both ends of 1,000 connections): `ulimit -n` must allow that (a process cannot raise
 * its own limit; 20,000 where it was written).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { topology } from '../../src/builder/builder.ts';
import { ROUTES } from '../../src/server/routes/index.ts';
import { streamRoutes } from '../../src/server/routes/stream.ts';
import { openStream, streamServer, type SseClient, type StreamServer } from '../support/sse.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live heap after full collections, with event-loop turns between them (finalizers, weak refs). */
async function liveHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

const pct = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

/** One llm node on the simulated fast model: 16 streamed tokens, no delay. */
const quick = topology('quick', { input: z.object({ q: z.string() }) })
  .llm('answer', { model: 'sim:fast', maxTokens: 16, prompt: ({ input }) => input.q })
  .build({ output: 'answer' });

const CLIENTS = 1_000;
const TOKENS = 300;
const RATE = 200;
const SECONDS = Number(process.env.LLMO_LOAD_SECONDS ?? 60);

let s: StreamServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

describe('llmo serve under load', () => {
  it(`streams one run to ${CLIENTS} concurrent clients: every client gets every event, each event serialized once`, async () => {
    s = await streamServer({ maxStreams: 2 * CLIENTS, maxStreamsPerKey: 2 * CLIENTS });
    const srv = s;
    const done = srv.backend.start({ topology: 'talk', input: { q: 'fan out' }, runId: 'fan', tenant: 'acme' }).done;
    const clients: SseClient[] = [];
    const t0 = performance.now();
    // connect in waves so the listen backlog is never the limit being tested
    for (let i = 0; i < CLIENTS; i += 100) {
      const wave = Array.from({ length: Math.min(100, CLIENTS - i) }, () => openStream(srv.url, 'fan', srv.key));
      clients.push(...wave);
      expect(new Set(await Promise.all(wave.map((c) => c.status)))).toEqual(new Set([200]));
    }
    await Promise.all(clients.map((c) => c.until((m) => m.id === '3')));
    const connectedMs = performance.now() - t0;
    expect(srv.hub.stats()).toMatchObject({ clients: CLIENTS, subscriptions: 1 });
    await srv.gate.calls(1);
    const t1 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < TOKENS; i++) {
      srv.gate.push(`t${i} `);
      // let the sockets move every 20 tokens, as a model's pace would
      if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    srv.gate.finish();
    await done;
    await Promise.all(clients.map((c) => c.until((m) => m.event === 'end')));
    const cpu = process.cpuUsage(cpu0);
    const ms = performance.now() - t1;
    const reference = clients[0]!.messages.map((m) => `${m.id} ${m.event} ${m.data}`);
    expect(reference.filter((x) => x.includes(' node.token '))).toHaveLength(TOKENS);
    expect(reference.at(-1)).toMatch(/ end \{"status":"completed"\}$/);
    let lost = 0;
    for (const c of clients) if (c.messages.map((m) => `${m.id} ${m.event} ${m.data}`).join('\n') !== reference.join('\n')) lost++;
    expect(lost).toBe(0);
    const stats = srv.hub.stats();
    // one serialization per event, not one per client
    expect(stats.serialized).toBeLessThanOrEqual(reference.length);
    expect(stats.dropped).toBe(0);
    console.log(`[load] ${CLIENTS} SSE clients connected in ${connectedMs.toFixed(0)} ms; ${TOKENS} tokens + ${reference.length - TOKENS} other messages to each: `
      + `${((TOKENS * CLIENTS) / (ms / 1000)).toFixed(0)} tokens/s delivered, ${ms.toFixed(0)} ms, process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms `
      + `(client side included), ${stats.serialized} frames serialized`);
    for (const c of clients) c.close();
  });

  it(`takes ${RATE} runs/s for ${SECONDS} s with bounded memory and reports p99 API latency`, async () => {
    s = await streamServer({ rateLimit: { max: 1_000_000, windowMs: 60_000 } }, {}, ROUTES.filter((r) => r !== streamRoutes), [quick]);
    const srv = s;
    const operator = (await srv.keys.create({ tenant: 'acme', roles: { '*': 'operator' }, name: 'load' })).secret;
    const auth = { authorization: `Bearer ${operator}` };
    // POST /v1/runs when the server has it; otherwise the backend directly (latency then timed on GET streams only)
    const probe = await fetch(`${srv.url}/v1/runs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ topology: 'quick', input: { q: 'probe' } }) });
    const viaApi = probe.status === 202 || probe.status === 200;
    await probe.arrayBuffer();
    const ids: string[] = [];
    const pending = new Set<Promise<unknown>>();
    const submitMs: number[] = [];
    const streamMs: number[] = [];
    let failures = 0;
    let n = 0;
    const submit = async (): Promise<void> => {
      const runId = `load-${n++}`;
      ids.push(runId);
      const t = performance.now();
      if (viaApi) {
        const r = await fetch(`${srv.url}/v1/runs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ topology: 'quick', input: { q: `question ${n}` }, runId }) });
        await r.arrayBuffer();
        if (r.status !== 202 && r.status !== 200) failures++;
      } else {
        const p = srv.backend.start({ topology: 'quick', input: { q: `question ${n}` }, runId, tenant: 'acme', user: 'load' }).done;
        pending.add(p);
        void p.then(() => pending.delete(p));
      }
      submitMs.push(performance.now() - t);
    };
    /** A full GET of a finished run's stream: authentication, the store read, the history, `event: end`. */
    const readStream = async (): Promise<void> => {
      const runId = ids[Math.max(0, ids.length - RATE)]!;
      const t = performance.now();
      const r = await fetch(`${srv.url}/v1/runs/${runId}/stream`, { headers: auth });
      const text = await r.text();
      streamMs.push(performance.now() - t);
      if (r.status !== 200 || !text.includes('event: end')) failures++;
    };
    // warm up, then measure from a settled heap
    for (let i = 0; i < 200; i++) await submit();
    await Promise.all(pending);
    await Promise.all(Array.from({ length: 20 }, readStream));
    submitMs.length = 0;
    streamMs.length = 0;
    const before = await liveHeap();
    const firstMeasured = n;
    const started = performance.now();
    const inFlight = new Set<Promise<void>>();
    const track = (p: Promise<void>): void => { inFlight.add(p); void p.finally(() => inFlight.delete(p)); };
    // every 50 ms: 10 submissions (200/s) and one timed stream read (20/s), paced against the clock so a slow tick catches up
    for (let tick = 0; tick < SECONDS * 20; tick++) {
      const due = started + tick * 50;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (let k = 0; k < RATE / 20; k++) track(submit());
      track(readStream());
    }
    await Promise.all(inFlight);
    await Promise.all(pending);
    const wallS = (performance.now() - started) / 1000;
    const submitted = n - firstMeasured;
    // every run ended: none held, the hub keeps nothing for runs nobody watched
    await expect.poll(() => ids.some((id) => srv.backend.holds(id)), { timeout: 60_000, interval: 200 }).toBe(false);
    await expect.poll(() => srv.hub.stats(), { timeout: 10_000 }).toMatchObject({ clients: 0, channels: 0, subscriptions: 0 });
    const after = await liveHeap();
    const last = await srv.engine.runs.get(ids.at(-1)!);
    expect(last?.status).toBe('completed');
    expect(failures).toBe(0);
    const perRunKb = (after - before) / submitted / 1024;
    console.log(`[load] ${submitted} runs in ${wallS.toFixed(1)} s (${(submitted / wallS).toFixed(0)}/s, ${viaApi ? 'POST /v1/runs' : 'backend.start'}); `
      + `${viaApi ? 'POST /v1/runs' : 'submit'} p50 ${pct(submitMs, 50).toFixed(2)} ms p99 ${pct(submitMs, 99).toFixed(2)} ms; `
      + `GET /v1/runs/:id/stream (finished run, whole response) p50 ${pct(streamMs, 50).toFixed(2)} ms p99 ${pct(streamMs, 99).toFixed(2)} ms over ${streamMs.length}; `
      + `live heap ${(before / 2 ** 20).toFixed(1)} -> ${(after / 2 ** 20).toFixed(1)} MiB (${perRunKb.toFixed(2)} KiB per run, the memory store's records included)`);
    // Bounded: what grows is the in-memory store's record of each run (its events and output), a few KiB; nothing per stream or per event.
    expect(perRunKb).toBeLessThan(24);
  });
});
