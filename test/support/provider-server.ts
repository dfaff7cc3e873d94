/**
 * A scripted, local LLM provider for tests: a node:http server on 127.0.0.1
 * (random port) that answers each request with the next script, writing the
 * exact bytes the script says (OpenAI chat-completions SSE, Anthropic Messages
 * SSE, error bodies), optionally with tiny delays, gates the test releases, or a
 * socket destroyed mid-stream. It records every request (method, path, headers,
 * parsed JSON body) and whether the client went away before the response ended,
 * so tests can assert that aborting a run aborts the HTTP request.
 *
 * Nothing here measures wall-clock time; delays are a few ms at most and only
 * shape the interleaving.
 *
 * @example
 * ```ts
 * const server = await startProviderServer();
 * server.enqueue(openaiStream({ text: ['Hel', 'lo'], usage: { prompt_tokens: 3, completion_tokens: 2 } }));
 * const provider = createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'k' });
 * // ...
 * await server.stop();
 * ```
 * @module
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observable } from 'rxjs';

// ---------------------------------------------------------------------------------------------
// Scripts

/** A latch the test opens to let a scripted response continue. */
export interface Gate {
  readonly promise: Promise<void>;
  readonly released: boolean;
  release(): void;
}

/** Creates a {@link Gate}. */
export function createGate(): Gate {
  let release!: () => void;
  let released = false;
  const promise = new Promise<void>((resolve) => {
    release = () => {
      released = true;
      resolve();
    };
  });
  return {
    promise,
    get released() {
      return released;
    },
    release: () => release(),
  };
}

/** One step of a scripted response body. */
export type Step =
  /** Write these exact bytes (one `res.write`, awaited until flushed to the socket). */
  | { readonly kind: 'write'; readonly data: string | Uint8Array }
  /** Wait a few ms (keep it tiny: 1–5). */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Wait until the test releases the gate (or the client goes away). */
  | { readonly kind: 'gate'; readonly gate: Gate }
  /** Destroy the socket now: the client sees the stream cut mid-way. */
  | { readonly kind: 'destroy' };

/** How to answer one request. The body ends after the last step unless a step destroyed the socket. */
export interface Script {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly steps?: readonly Step[];
  /** Destroy the socket without sending any response (a connection failure). */
  readonly dropConnection?: boolean;
  /** Hold the response headers until the test releases this gate (the client is still waiting in `fetch`). */
  readonly holdHeaders?: Gate;
}

/** A write step. */
export const write = (data: string | Uint8Array): Step => ({ kind: 'write', data });
/** A delay step. */
export const delay = (ms: number): Step => ({ kind: 'delay', ms });
/** A gate step. */
export const gate = (g: Gate): Step => ({ kind: 'gate', gate: g });
/** A destroy step. */
export const destroy = (): Step => ({ kind: 'destroy' });

/** The bytes of one SSE event: optional `event:` line, one `data:` line, blank line. */
export function sse(data: string | object, event?: string): string {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${body}\n\n`;
}

/** An SSE stream answer (200, `text/event-stream`) writing each event as its own chunk. */
export function sseScript(events: readonly (string | Step)[], options: { headers?: Readonly<Record<string, string>>; status?: number } = {}): Script {
  return {
    status: options.status ?? 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...options.headers },
    steps: events.map((e) => (typeof e === 'string' ? write(e) : e)),
  };
}

/** A JSON error answer. */
export function jsonError(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Script {
  return { status, headers: { 'content-type': 'application/json', ...headers }, steps: [write(JSON.stringify(body))] };
}

/** Inserts `step` between every two events (e.g. `delay(1)` for slow tokens). */
export function interleave(events: readonly (string | Step)[], step: Step): (string | Step)[] {
  const out: (string | Step)[] = [];
  events.forEach((e, i) => {
    if (i > 0) out.push(step);
    out.push(e);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// OpenAI chat completions

/** OpenAI `usage` object (wire shape). */
export interface OpenAIUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens?: number;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number; readonly audio_tokens?: number } | null;
  readonly completion_tokens_details?: { readonly reasoning_tokens?: number; readonly audio_tokens?: number } | null;
}

/** A tool call the scripted model makes: name, id, and its arguments in fragments. */
export interface ScriptedToolCall {
  readonly id: string;
  readonly name: string;
  readonly fragments: readonly string[];
}

/** What a scripted OpenAI stream says. */
export interface OpenAIStreamSpec {
  readonly model?: string;
  readonly id?: string;
  /** Content deltas, in order. */
  readonly text?: readonly string[];
  readonly toolCalls?: readonly ScriptedToolCall[];
  /** Default `stop` (or `tool_calls` when there are tool calls). `null`: no finish chunk. */
  readonly finishReason?: string | null;
  /** The usage chunk (`choices: []`) before [DONE]; omitted when undefined. */
  readonly usage?: OpenAIUsage;
  /** Write `data: [DONE]`. Default true. */
  readonly done?: boolean;
}

let serial = 0;

/** One chat.completion.chunk (wire JSON). */
export function openaiChunk(spec: { id: string; model: string; created?: number }, choice: { delta: object; finish_reason: string | null } | null, usage?: OpenAIUsage | null): object {
  return {
    id: spec.id,
    object: 'chat.completion.chunk',
    created: spec.created ?? 1_700_000_000,
    model: spec.model,
    system_fingerprint: 'fp_test',
    choices: choice === null ? [] : [{ index: 0, ...choice, logprobs: null }],
    usage: usage ?? null,
  };
}

/**
 * The SSE events of an OpenAI streamed completion, as the API writes them: the
 * first delta carries `role` (and `content: ""`), then one delta per text piece,
 * tool calls keyed by index (id/type/name first, then argument fragments), a
 * chunk with `finish_reason` and an empty delta, the usage chunk with
 * `choices: []` (when given), and `data: [DONE]`.
 */
export function openaiEvents(s: OpenAIStreamSpec): string[] {
  const head = { id: s.id ?? `chatcmpl-${++serial}`, model: s.model ?? 'gpt-4o-mini-2024-07-18' };
  const withUsage = s.usage !== undefined;
  const chunk = (delta: object, finish: string | null = null): string => sse(openaiChunk(head, { delta, finish_reason: finish }, withUsage ? null : undefined));
  const out: string[] = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const t of s.text ?? []) out.push(chunk({ content: t }));
  (s.toolCalls ?? []).forEach((c, index) => {
    out.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
    for (const f of c.fragments) out.push(chunk({ tool_calls: [{ index, function: { arguments: f } }] }));
  });
  const finish = s.finishReason === undefined ? (s.toolCalls?.length ? 'tool_calls' : 'stop') : s.finishReason;
  if (finish !== null) out.push(chunk({}, finish));
  if (s.usage !== undefined) out.push(sse(openaiChunk(head, null, { total_tokens: s.usage.prompt_tokens + s.usage.completion_tokens, ...s.usage })));
  if (s.done ?? true) out.push(sse('[DONE]'));
  return out;
}

/** A whole OpenAI streamed answer (with OpenAI's rate-limit headers unless overridden). */
export function openaiStream(s: OpenAIStreamSpec, headers: Readonly<Record<string, string>> = {}): Script {
  return sseScript(openaiEvents(s), {
    headers: {
      'x-request-id': `req_${++serial}`,
      'openai-processing-ms': '12',
      'x-ratelimit-limit-requests': '10000',
      'x-ratelimit-remaining-requests': '9999',
      'x-ratelimit-reset-requests': '6ms',
      'x-ratelimit-limit-tokens': '200000',
      'x-ratelimit-remaining-tokens': '199950',
      'x-ratelimit-reset-tokens': '15ms',
      ...headers,
    },
  });
}

/** OpenAI's error body. */
export function openaiErrorBody(message: string, type: string, code: string | null, param: string | null = null): object {
  return { error: { message, type, param, code } };
}

/** OpenAI 429 rate limit with `retry-after` and the `x-ratelimit-*` headers. */
export function openai429(retryAfterSeconds = 2, extra: Readonly<Record<string, string>> = {}): Script {
  return jsonError(429, openaiErrorBody('Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.', 'requests', 'rate_limit_exceeded'), {
    'retry-after': String(retryAfterSeconds),
    'x-request-id': 'req_rl',
    'x-ratelimit-limit-requests': '3',
    'x-ratelimit-remaining-requests': '0',
    'x-ratelimit-reset-requests': '20s',
    'x-ratelimit-limit-tokens': '40000',
    'x-ratelimit-remaining-tokens': '39000',
    'x-ratelimit-reset-tokens': '1.5s',
    ...extra,
  });
}

/** OpenAI 429 insufficient_quota (not retriable). */
export function openaiQuota(): Script {
  return jsonError(429, openaiErrorBody('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota'));
}

/** OpenAI 400 context_length_exceeded. */
export function openaiContextLength(): Script {
  return jsonError(400, openaiErrorBody("This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", 'invalid_request_error', 'context_length_exceeded', 'messages'));
}

/** OpenAI 500. */
export function openai500(): Script {
  return jsonError(500, openaiErrorBody('The server had an error while processing your request. Sorry about that!', 'server_error', null));
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages

/** Anthropic usage (wire shape). */
export interface AnthropicUsage {
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation_input_tokens?: number | null;
}

/** A content block of a scripted Anthropic answer. */
export type AnthropicBlock =
  | { readonly type: 'text'; readonly deltas: readonly string[] }
  | { readonly type: 'tool_use'; readonly id: string; readonly name: string; readonly fragments: readonly string[] }
  | { readonly type: 'thinking'; readonly deltas: readonly string[] };

/** What a scripted Anthropic stream says. */
export interface AnthropicStreamSpec {
  readonly model?: string;
  readonly id?: string;
  readonly blocks?: readonly AnthropicBlock[];
  /** Usage in message_start. */
  readonly startUsage?: AnthropicUsage;
  /** Cumulative usage in message_delta. */
  readonly deltaUsage?: AnthropicUsage;
  /** Default `end_turn` (`tool_use` when a tool_use block exists). `null`: no message_delta. */
  readonly stopReason?: string | null;
  /** Write a `ping` after message_start. Default true. */
  readonly ping?: boolean;
  /** Write message_stop. Default true. */
  readonly stop?: boolean;
}

/** The SSE events of an Anthropic streamed message, as the API writes them (named events whose data repeats the type). */
export function anthropicEvents(s: AnthropicStreamSpec): string[] {
  const ev = (type: string, body: object): string => sse({ type, ...body }, type);
  const out: string[] = [
    ev('message_start', {
      message: {
        id: s.id ?? `msg_${++serial}`, type: 'message', role: 'assistant', model: s.model ?? 'claude-sonnet-4-5-20250929',
        content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: 25, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1, ...s.startUsage },
      },
    }),
  ];
  if (s.ping ?? true) out.push(ev('ping', {}));
  (s.blocks ?? []).forEach((b, index) => {
    if (b.type === 'text') {
      out.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      for (const t of b.deltas) out.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: t } }));
    } else if (b.type === 'thinking') {
      out.push(ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '' } }));
      for (const t of b.deltas) out.push(ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: t } }));
      out.push(ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }));
    } else {
      out.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
      for (const f of b.fragments) out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: f } }));
    }
    out.push(ev('content_block_stop', { index }));
  });
  const reason = s.stopReason === undefined ? (s.blocks?.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn') : s.stopReason;
  if (reason !== null) out.push(ev('message_delta', { delta: { stop_reason: reason, stop_sequence: null }, usage: { output_tokens: 15, ...s.deltaUsage } }));
  if (s.stop ?? true) out.push(ev('message_stop', {}));
  return out;
}

/** A whole Anthropic streamed answer (with Anthropic's rate-limit headers unless overridden). */
export function anthropicStream(s: AnthropicStreamSpec, headers: Readonly<Record<string, string>> = {}): Script {
  return sseScript(anthropicEvents(s), {
    headers: {
      'request-id': `req_${++serial}`,
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2030-01-01T00:00:00Z',
      'anthropic-ratelimit-tokens-limit': '40000',
      'anthropic-ratelimit-tokens-remaining': '39000',
      'anthropic-ratelimit-tokens-reset': '2030-01-01T00:00:00Z',
      ...headers,
    },
  });
}

/** Anthropic's error body. */
export function anthropicErrorBody(type: string, message: string): object {
  return { type: 'error', error: { type, message } };
}

/** Anthropic 529 overloaded. */
export function anthropic529(): Script {
  return jsonError(529, anthropicErrorBody('overloaded_error', 'Overloaded'), { 'request-id': 'req_overloaded' });
}

/** Anthropic 429 with `retry-after` and `anthropic-ratelimit-*` headers. */
export function anthropic429(retryAfterSeconds = 3, resetAt = '2030-01-01T00:00:00Z'): Script {
  return jsonError(429, anthropicErrorBody('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'), {
    'retry-after': String(retryAfterSeconds),
    'anthropic-ratelimit-requests-limit': '50',
    'anthropic-ratelimit-requests-remaining': '0',
    'anthropic-ratelimit-requests-reset': resetAt,
    'anthropic-ratelimit-tokens-limit': '40000',
    'anthropic-ratelimit-tokens-remaining': '0',
    'anthropic-ratelimit-tokens-reset': resetAt,
  });
}

// ---------------------------------------------------------------------------------------------
// The server

/** One request the server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path with query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** True once the client went away before the response ended. */
  readonly clientAborted: boolean;
  /** True once the response was fully written (ended normally). */
  readonly responseEnded: boolean;
  /** Resolves when the exchange is over (ended, destroyed by the script, or aborted by the client). */
  readonly closed: Promise<{ readonly clientAborted: boolean }>;
}

/** Answers one request: a fixed script, or a function of the request. */
export type Responder = Script | ((req: RecordedRequest) => Script);

/** A running scripted provider server. */
export interface ProviderServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Queues answers for the next requests (FIFO). */
  enqueue(...responders: Responder[]): void;
  /** Answer used when the queue is empty. Default: 500 "no script queued". */
  setFallback(responder: Responder | undefined): void;
  /** Resolves with the n-th request (0-based) once it has arrived. */
  request(n: number): Promise<RecordedRequest>;
  /** Clears the queue, the fallback and the recorded requests. */
  reset(): void;
  /** Releases every gate, drops every connection, and closes the server. */
  stop(): Promise<void>;
}

class Recorded implements RecordedRequest {
  clientAborted = false;
  responseEnded = false;
  readonly closed: Promise<{ readonly clientAborted: boolean }>;
  resolveClosed!: (v: { readonly clientAborted: boolean }) => void;
  constructor(
    readonly method: string,
    readonly path: string,
    readonly headers: IncomingHttpHeaders,
    readonly rawBody: string,
    readonly body: unknown,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function writeAwait(res: ServerResponse, data: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed || res.writableEnded) return resolve();
    res.write(data, () => resolve());
  });
}

/**
 * Starts a scripted provider server on 127.0.0.1 and a random port.
 *
 * @example
 * ```ts
 * const server = await startProviderServer();
 * server.enqueue(anthropic529());
 * ```
 */
export async function startProviderServer(): Promise<ProviderServer> {
  const queue: Responder[] = [];
  let fallback: Responder | undefined;
  const requests: Recorded[] = [];
  const waiters: { n: number; resolve: (r: RecordedRequest) => void }[] = [];
  const gates = new Set<Gate>();
  let stopping = false;

  const noScript: Script = jsonError(500, { error: { message: 'provider-server: no script queued', type: 'server_error', code: null } });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const rec = new Recorded(req.method ?? 'GET', req.url ?? '/', req.headers, raw, body);
    let scriptDestroyed = false;
    res.on('close', () => {
      if (!res.writableFinished && !scriptDestroyed) rec.clientAborted = true;
      rec.resolveClosed({ clientAborted: rec.clientAborted });
    });
    requests.push(rec);
    for (const w of waiters.filter((x) => x.n === requests.length - 1)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(rec);
    }
    const responder = queue.shift() ?? fallback ?? noScript;
    const script = typeof responder === 'function' ? responder(rec) : responder;
    if (script.dropConnection) {
      scriptDestroyed = true;
      req.socket.destroy();
      return;
    }
    if (script.holdHeaders !== undefined) {
      gates.add(script.holdHeaders);
      const closed = new Promise<void>((r) => res.once('close', () => r()));
      await Promise.race([script.holdHeaders.promise, closed]);
      if (res.destroyed || stopping) return;
    }
    res.writeHead(script.status ?? 200, { ...script.headers });
    // Headers go out with the first write; flush them now so the client sees the response start.
    res.flushHeaders();
    const gone = (): boolean => res.destroyed || stopping;
    for (const step of script.steps ?? []) {
      if (gone()) return;
      switch (step.kind) {
        case 'write':
          await writeAwait(res, step.data);
          break;
        case 'delay':
          await new Promise((r) => setTimeout(r, step.ms));
          break;
        case 'gate': {
          gates.add(step.gate);
          const closed = new Promise<void>((r) => res.once('close', () => r()));
          await Promise.race([step.gate.promise, closed]);
          break;
        }
        case 'destroy':
          scriptDestroyed = true;
          res.socket?.destroy();
          res.destroy();
          return;
      }
    }
    if (!gone()) {
      res.end(() => {
        rec.responseEnded = true;
      });
    }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`provider-server failure: ${String(e)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    enqueue: (...rs) => void queue.push(...rs),
    setFallback: (r) => void (fallback = r),
    request: (n) => (requests[n] !== undefined ? Promise.resolve(requests[n]) : new Promise((resolve) => waiters.push({ n, resolve }))),
    reset: () => {
      queue.length = 0;
      fallback = undefined;
      requests.length = 0;
    },
    stop: async () => {
      stopping = true;
      for (const g of gates) g.release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Everything an observable emitted, and how it ended (`error` undefined: it completed). */
export interface Drained<T> {
  readonly values: T[];
  readonly error: unknown;
  readonly completed: boolean;
}

/** Subscribes and collects values until the observable completes or errors (never rejects). */
export function drain<T>(o: Observable<T>): Promise<Drained<T>> {
  return new Promise((resolve) => {
    const values: T[] = [];
    o.subscribe({
      next: (v) => values.push(v),
      error: (error: unknown) => resolve({ values, error, completed: false }),
      complete: () => resolve({ values, error: undefined, completed: true }),
    });
  });
}
