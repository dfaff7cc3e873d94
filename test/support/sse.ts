/**
 * Test helpers for the run stream: a model provider the test drives token by token, a
 * topology streaming from it, a server on 127.0.0.1 with keys, and a raw Server-Sent-Event
 * client on `http.request` (parsed by eventsource-parser) that can stop reading.
 * @module
 */
import * as http from 'node:http';
import { Observable, type Subscriber } from 'rxjs';
import * as z from 'zod';
import { createParser } from 'eventsource-parser';
import { topology } from '../../src/builder/builder.ts';
import { createEngine, type Engine } from '../../src/runtime/engine.ts';
import { createModels } from '../../src/providers/models.ts';
import type { Provider, ProviderEvent } from '../../src/providers/types.ts';
import { createSimProvider } from '../../src/providers/sim.ts';
import type { AnyTopology } from '../../src/definition/types.ts';
import { createMemoryStore } from '../../src/stores/memory.ts';
import type { RunStore } from '../../src/runtime/store.ts';
import { createLocalBackend, type RunBackend } from '../../src/server/backend.ts';
import { createMemoryKeyStore } from '../../src/server/keys/memory.ts';
import type { KeyStore } from '../../src/server/access.ts';
import { createServer, type LlmoServer } from '../../src/server/server.ts';
import type { ServerOptions } from '../../src/server/options.ts';
import type { Routes } from '../../src/server/context.ts';
import { streamRoutesWith, type StreamRouteOptions } from '../../src/server/routes/stream.ts';
import type { StreamHub } from '../../src/server/stream/hub.ts';

/**
 * A provider whose calls the test drives: `push` a token to every open call, `finish` them.
 *
 * @example
 * ```ts
 * const gate = gateProvider();
 * gate.push('Hel'); gate.push('lo'); gate.finish();
 * ```
 */
export interface GateProvider {
  readonly provider: Provider;
  /** Calls open now. */
  readonly open: number;
  /** Resolves once `n` calls have been opened in total. */
  calls(n: number): Promise<void>;
  push(text: string): void;
  finish(): void;
}

/**
 * Makes a {@link GateProvider} (name `gate`: model `gate:m`).
 *
 * @example
 * ```ts
 * const engine = createEngine({ models: createModels({ providers: [gateProvider().provider] }) });
 * ```
 */
export function gateProvider(): GateProvider {
  const subs = new Set<Subscriber<ProviderEvent>>();
  let opened = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const provider: Provider = {
    name: 'gate',
    simulated: true,
    stream: () => new Observable<ProviderEvent>((s) => {
      s.next({ type: 'response', status: 200, rateLimit: {} });
      subs.add(s);
      opened++;
      for (const w of waiters.filter((x) => opened >= x.n)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
      return () => { subs.delete(s); };
    }),
  };
  return {
    provider,
    get open() { return subs.size; },
    calls: (n) => (opened >= n ? Promise.resolve() : new Promise((resolve) => { waiters.push({ n, resolve }); })),
    push(text) { for (const s of subs) s.next({ type: 'text', text }); },
    finish() {
      for (const s of [...subs]) {
        s.next({ type: 'usage', usage: { inputTokens: 3, outputTokens: 3, cachedTokens: 0, reasoningTokens: 0 } });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      }
    },
  };
}

/** A topology: `prep` (a map) then `answer`, an llm node on `gate:m`. */
export const talk = topology('talk', { input: z.object({ q: z.string() }) })
  .map('prep', { run: ({ input }) => input.q.trim() })
  .llm('answer', { model: 'gate:m', after: ['prep'], prompt: ({ deps }) => deps.prep })
  .build({ output: 'answer' });

/**
 * A server with the stream route on a local backend, listening on 127.0.0.1.
 *
 * @example
 * ```ts
 * const s = await streamServer({ maxStreams: 10 });
 * const started = s.backend.start({ topology: 'talk', input: { q: 'hi' }, runId: 'r1', tenant: 'acme' });
 * ```
 */
export interface StreamServer {
  readonly url: string;
  readonly server: LlmoServer;
  readonly engine: Engine;
  readonly store: RunStore;
  readonly backend: RunBackend;
  readonly keys: KeyStore;
  readonly hub: StreamHub;
  readonly gate: GateProvider;
  /** A key of tenant `acme` with viewer role on every topology. */
  readonly key: string;
  close(): Promise<void>;
}

/**
 * Builds and starts a {@link StreamServer}.
 *
 * @example
 * ```ts
 * const s = await streamServer({ streamBufferBytes: 4096 }, { pingMs: 1000 });
 * ```
 */
export async function streamServer(options: ServerOptions = {}, tuning: StreamRouteOptions = {}, extra: readonly Routes[] = [], topologies: readonly AnyTopology[] = [], wrap: (b: RunBackend) => RunBackend = (b) => b): Promise<StreamServer> {
  const gate = gateProvider();
  const store = createMemoryStore();
  const engine = createEngine({ store, models: createModels({ providers: [gate.provider, createSimProvider()] }) });
  const backend = createLocalBackend(engine, [talk, ...topologies]);
  const keys = createMemoryKeyStore();
  const { secret } = await keys.create({ tenant: 'acme', roles: { '*': 'viewer' }, name: 'watcher' });
  let hub: StreamHub | undefined;
  const server = await createServer({ backend: wrap(backend), runs: engine.runs, keys }, { port: 0, ...options }, [
    streamRoutesWith({ ...tuning, onHub: (h) => { hub = h; tuning.onHub?.(h); } }), ...extra,
  ]);
  const url = await server.listen();
  return {
    url, server, engine, store, backend, keys, hub: hub!, gate, key: secret,
    async close() {
      await server.close();
      await engine.shutdown({ mode: 'cancel' });
      await backend.close();
    },
  };
}

/**
 * One message of a stream as a client parses it.
 *
 * @example
 * ```ts
 * const m: SseMessage = { id: '4:0', event: 'node.token', data: '{"text":"Hel"}' };
 * ```
 */
export interface SseMessage {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

/**
 * A raw stream client: every message and comment it parsed, how the response ended.
 *
 * @example
 * ```ts
 * const c = openStream(url, 'r1', key);
 * await c.until((m) => m.event === 'end');
 * ```
 */
export interface SseClient {
  readonly status: Promise<number>;
  /** Response headers. */
  readonly headers: Promise<http.IncomingHttpHeaders>;
  readonly messages: SseMessage[];
  readonly comments: string[];
  /** Raw body bytes received. */
  readonly bytes: number;
  /** The body of a non-200 reply. */
  readonly body: Promise<string>;
  /** Resolves when the response ended or the socket closed: `end` (the server ended it) or `aborted`. */
  readonly closed: Promise<'end' | 'aborted'>;
  /** Resolves when a message matching `pred` arrived (looks at the ones already received first). */
  until(pred: (m: SseMessage) => boolean): Promise<SseMessage>;
  /** Stops reading (the socket's buffers fill; the server sees backpressure). */
  pause(): void;
  /** Reads again (a paused socket sees its end only once it reads). */
  resume(): void;
  close(): void;
}

/**
 * Opens `GET /v1/runs/:id/stream` with `http.request`.
 *
 * @example
 * ```ts
 * const c = openStream(s.url, 'r1', s.key, { lastEventId: '3:1' });
 * ```
 */
export function openStream(base: string, runId: string, key: string, options: { readonly lastEventId?: string; readonly paused?: boolean; readonly agent?: http.Agent } = {}): SseClient {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  const waiters: { pred: (m: SseMessage) => boolean; resolve: (m: SseMessage) => void; reject: (e: Error) => void }[] = [];
  let bytes = 0;
  let res: http.IncomingMessage | undefined;
  let paused = options.paused === true;
  let resolveStatus!: (n: number) => void;
  let resolveHeaders!: (h: http.IncomingHttpHeaders) => void;
  let resolveBody!: (s: string) => void;
  let resolveClosed!: (why: 'end' | 'aborted') => void;
  const status = new Promise<number>((r) => { resolveStatus = r; });
  const headers = new Promise<http.IncomingHttpHeaders>((r) => { resolveHeaders = r; });
  const body = new Promise<string>((r) => { resolveBody = r; });
  const closed = new Promise<'end' | 'aborted'>((r) => { resolveClosed = r; });
  const parser = createParser({
    onEvent: (e) => {
      const m: SseMessage = { id: e.id, event: e.event, data: e.data };
      messages.push(m);
      for (const w of waiters.filter((x) => x.pred(m))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
    },
    onComment: (c) => { comments.push(c.trim()); },
  });
  const fail = (why: string): void => { for (const w of waiters.splice(0)) w.reject(new Error(`stream closed (${why}) before the message waited for; got ${messages.length}: ${messages.slice(-3).map((m) => `${m.id} ${m.event}`).join(', ')}`)); };
  const headersOut: http.OutgoingHttpHeaders = { authorization: `Bearer ${key}`, accept: 'text/event-stream' };
  if (options.lastEventId !== undefined) headersOut['last-event-id'] = options.lastEventId;
  const req = http.request(`${base}/v1/runs/${encodeURIComponent(runId)}/stream`, { headers: headersOut, ...(options.agent === undefined ? { agent: false } : { agent: options.agent }) }, (r) => {
    res = r;
    resolveStatus(r.statusCode ?? 0);
    resolveHeaders(r.headers);
    if (r.statusCode !== 200) {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => { text += d; });
      r.on('end', () => { resolveBody(text); resolveClosed('end'); fail('not 200'); });
      return;
    }
    resolveBody('');
    if (paused) r.pause();
    const decoder = new TextDecoder();
    r.on('data', (d: Buffer) => { bytes += d.length; parser.feed(decoder.decode(d, { stream: true })); });
    r.on('end', () => { resolveClosed('end'); fail('ended'); });
    r.on('aborted', () => { resolveClosed('aborted'); fail('aborted'); });
    r.on('close', () => { resolveClosed(r.complete ? 'end' : 'aborted'); fail('closed'); });
    r.on('error', () => { resolveClosed('aborted'); fail('error'); });
  });
  req.on('error', () => { resolveStatus(0); resolveClosed('aborted'); fail('request error'); });
  // A paused response hears of its socket closing only once it reads again: listen on the socket.
  req.on('socket', (sock) => { sock.on('close', () => { resolveClosed(res?.complete === true ? 'end' : 'aborted'); fail('socket closed'); }); });
  req.end();
  return {
    status, headers, messages, comments, body, closed,
    get bytes() { return bytes; },
    until(pred) {
      const had = messages.find(pred);
      if (had !== undefined) return Promise.resolve(had);
      return new Promise((resolve, reject) => { waiters.push({ pred, resolve, reject }); });
    },
    pause() { paused = true; res?.pause(); },
    resume() { paused = false; res?.resume(); },
    close() { req.destroy(); res?.destroy(); },
  };
}
