/**
 * The OpenAI-compatible provider against a local server that writes byte-exact
 * chat-completions streams: deltas, usage, finish reasons, tool-call fragments,
 * the request on the wire, every failure mapped to a ProviderError, and aborts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastValueFrom, take, toArray } from 'rxjs';
import { z } from 'zod';
import { createEngine, createModels, defineTool, isProviderError, topology, type ProviderError } from '../index.ts';
import { createOpenAIProvider } from './openai.ts';
import type { CompletionRequest, ProviderEvent } from './types.ts';
import { JSON_INSTRUCTION } from './json-mode.ts';
import {
  createGate, delay, destroy, drain, gate, interleave, jsonError, openai429, openai500, openaiChunk, openaiContextLength,
  openaiErrorBody, openaiEvents, openaiQuota, openaiStream, sse, sseScript, startProviderServer, write, type ProviderServer,
} from '../../test/support/provider-server.ts';

let server: ProviderServer;
beforeAll(async () => {
  server = await startProviderServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => server.reset());

const REQ: CompletionRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] };
const provider = (extra: Parameters<typeof createOpenAIProvider>[0] = {}) =>
  createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'sk-test', ...extra });

const texts = (events: readonly ProviderEvent[]): string[] => events.flatMap((e) => (e.type === 'text' ? [e.text] : []));
const of = <K extends ProviderEvent['type']>(events: readonly ProviderEvent[], type: K) =>
  events.filter((e): e is Extract<ProviderEvent, { type: K }> => e.type === type);

/** Runs the request and returns the ProviderError it failed with (and what came before). */
async function failure(req: CompletionRequest = REQ): Promise<{ error: ProviderError; events: ProviderEvent[] }> {
  const r = await drain(provider().stream(req));
  expect(r.completed).toBe(false);
  expect(isProviderError(r.error), `expected a ProviderError, got ${String(r.error)}`).toBe(true);
  return { error: r.error as ProviderError, events: r.values };
}

describe('OpenAI provider: streaming', () => {
  it('emits the text deltas the server sent, in order, between response and finish', async () => {
    const pieces = ['Hel', 'lo', ',', ' wor', 'ld', '!'];
    server.enqueue(openaiStream({ text: pieces, usage: { prompt_tokens: 9, completion_tokens: 6 } }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events)).toEqual(pieces);
    expect(events[0]).toMatchObject({ type: 'response', status: 200 });
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'stop' }]);
    // finish comes after every text
    const lastText = events.map((e) => e.type).lastIndexOf('text');
    expect(events.findIndex((e) => e.type === 'finish')).toBeGreaterThan(lastText);
  });

  it('reports rate-limit headers and the request id on the response event', async () => {
    server.enqueue(openaiStream({ text: ['x'] }, { 'x-request-id': 'req_abc', 'x-ratelimit-reset-requests': '6m0s', 'x-ratelimit-reset-tokens': '1.5s' }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(events[0]).toEqual({
      type: 'response', status: 200, requestId: 'req_abc',
      rateLimit: { remainingRequests: 9999, remainingTokens: 199950, resetRequestsMs: 360_000, resetTokensMs: 1500 },
    });
  });

  it('maps usage: prompt_tokens (incl. cached), completion_tokens, cached and reasoning tokens', async () => {
    server.enqueue(openaiStream({
      text: ['ok'],
      usage: {
        prompt_tokens: 1200, completion_tokens: 300,
        prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 128, audio_tokens: 0 },
      },
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(of(events, 'usage')).toEqual([{ type: 'usage', usage: { inputTokens: 1200, outputTokens: 300, cachedTokens: 1024, reasoningTokens: 128 } }]);
  });

  it('maps usage without details (null details) to zero cached/reasoning', async () => {
    server.enqueue(openaiStream({ text: ['ok'], usage: { prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: null, completion_tokens_details: null } }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(of(events, 'usage')).toEqual([{ type: 'usage', usage: { inputTokens: 5, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0 } }]);
  });

  it('completes without a usage event when the server sends none (LM Studio style)', async () => {
    server.enqueue(openaiStream({ text: ['a', 'b'] }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events)).toEqual(['a', 'b']);
    expect(of(events, 'usage')).toEqual([]);
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'stop' }]);
  });

  it.each([
    ['stop', 'stop'], ['length', 'length'], ['tool_calls', 'tool_calls'], ['function_call', 'tool_calls'],
    ['content_filter', 'content_filter'], ['something_new', 'other'],
  ])('maps finish_reason %s to %s', async (wire, ours) => {
    server.enqueue(openaiStream({ text: ['t'], finishReason: wire }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: ours }]);
  });

  it('emits tool-call fragments keyed by index; joined they are the arguments', async () => {
    server.enqueue(openaiStream({
      toolCalls: [
        { id: 'call_1', name: 'get_weather', fragments: ['{"ci', 'ty":', ' "Par', 'is"}'] },
        { id: 'call_2', name: 'get_time', fragments: ['{"tz"', ':"CET"}'] },
      ],
      usage: { prompt_tokens: 50, completion_tokens: 20 },
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    const calls = of(events, 'tool_call');
    expect(calls[0]).toEqual({ type: 'tool_call', index: 0, id: 'call_1', name: 'get_weather', arguments: '' });
    const joined = new Map<number, { id?: string; name?: string; args: string }>();
    for (const c of calls) {
      const t = joined.get(c.index) ?? { args: '' };
      if (c.id !== undefined) t.id = c.id;
      if (c.name !== undefined) t.name = c.name;
      t.args += c.arguments;
      joined.set(c.index, t);
    }
    expect([...joined.entries()]).toEqual([
      [0, { id: 'call_1', name: 'get_weather', args: '{"city": "Paris"}' }],
      [1, { id: 'call_2', name: 'get_time', args: '{"tz":"CET"}' }],
    ]);
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'tool_calls' }]);
  });

  it('decodes events split across TCP writes, multi-byte characters cut in half, CRLF lines and comments', async () => {
    const full = Buffer.from(openaiEvents({ text: ['héllo ', '👋', ' wörld'], usage: { prompt_tokens: 1, completion_tokens: 3 } }).join(''), 'utf8');
    // cut inside the 4-byte emoji and inside the two-byte é
    const emoji = full.indexOf(Buffer.from('👋', 'utf8'));
    const e = full.indexOf(Buffer.from('é', 'utf8'));
    const cuts = [0, e + 1, emoji + 2, emoji + 3, full.length];
    const steps = [write(': OPENROUTER PROCESSING\r\n\r\n')];
    for (let i = 0; i + 1 < cuts.length; i++) steps.push(write(full.subarray(cuts[i], cuts[i + 1])), delay(1));
    server.enqueue(sseScript(steps));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events).join('')).toBe('héllo 👋 wörld');
    expect(texts(events)).toEqual(['héllo ', '👋', ' wörld']);

    const crlf = openaiEvents({ text: ['a', 'b'] }).map((x) => x.replace(/\n/g, '\r\n'));
    server.enqueue(sseScript(crlf));
    expect(texts(await lastValueFrom(provider().stream(REQ).pipe(toArray())))).toEqual(['a', 'b']);
  });

  it('streams slow tokens one by one: the first arrives while the server still holds the rest', async () => {
    const g = createGate();
    const events = openaiEvents({ text: ['first', ' second', ' third'], usage: { prompt_tokens: 2, completion_tokens: 3 } });
    server.enqueue(sseScript([...events.slice(0, 2), gate(g), ...interleave(events.slice(2), delay(2))]));
    const seen: string[] = [];
    let firstSeen!: () => void;
    const first = new Promise<void>((resolve) => (firstSeen = resolve));
    const done = new Promise<void>((resolve, reject) => {
      provider().stream(REQ).subscribe({
        next: (e) => {
          if (e.type !== 'text') return;
          seen.push(e.text);
          firstSeen();
        },
        error: reject,
        complete: resolve,
      });
    });
    await first;
    expect(seen).toEqual(['first']);
    expect((await server.request(0)).responseEnded).toBe(false);
    g.release();
    await done;
    expect(seen).toEqual(['first', ' second', ' third']);
    expect(server.requests).toHaveLength(1);
  });

  it('ignores chunks it does not know (unknown event names, deltas with unknown fields, empty choices)', async () => {
    const head = { id: 'c1', model: 'm' };
    server.enqueue(sseScript([
      sse(openaiChunk(head, { delta: { role: 'assistant', content: '' }, finish_reason: null })),
      sse({ id: 'c1', object: 'chat.completion.chunk', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] }),
      sse(openaiChunk(head, { delta: { reasoning_content: 'thinking...' }, finish_reason: null })),
      sse({ type: 'future.event', payload: 1 }, 'future.event'),
      sse(openaiChunk(head, { delta: { content: 'A' }, finish_reason: null })),
      ': keep-alive\n\n',
      sse(openaiChunk(head, { delta: { content: 'B' }, finish_reason: 'stop' })),
      sse('[DONE]'),
    ]));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events)).toEqual(['A', 'B']);
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'stop' }]);
  });
});

describe('OpenAI provider: the request on the wire', () => {
  it('POSTs to {baseUrl}/chat/completions with Bearer auth, JSON, stream: true and include_usage', async () => {
    server.enqueue(openaiStream({ text: ['x'] }));
    await lastValueFrom(provider({ headers: { 'openai-organization': 'org-1' } }).stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
      temperature: 0.2, maxTokens: 64, stop: ['\n\n'], seed: 7,
    }).pipe(toArray()));
    const r = await server.request(0);
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers['authorization']).toBe('Bearer sk-test');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['accept']).toBe('text/event-stream');
    expect(r.headers['openai-organization']).toBe('org-1');
    expect(r.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2, max_tokens: 64, stop: ['\n\n'], seed: 7,
    });
  });

  it('omits stream_options with includeUsage: false, sends no auth header without a key, trims a trailing slash', async () => {
    server.enqueue(openaiStream({ text: ['x'] }));
    await lastValueFrom(createOpenAIProvider({ baseUrl: `${server.url}/v1/`, includeUsage: false }).stream(REQ).pipe(toArray()));
    const r = await server.request(0);
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.headers['authorization']).toBeUndefined();
    expect(r.body.stream).toBe(true);
    expect(r.body).not.toHaveProperty('stream_options');
  });

  it('sends tools, response_format for json, and tool messages in the OpenAI shape', async () => {
    server.enqueue(openaiStream({ text: ['{}'] }));
    await lastValueFrom(provider().stream({
      model: 'gpt-4o-mini',
      json: true,
      tools: [{ name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'call_9', name: 'lookup', arguments: '{"q":"x"}' }] },
        { role: 'tool', content: 'result', toolCallId: 'call_9' },
      ],
    }).pipe(toArray()));
    const { body } = await server.request(0);
    expect(body.response_format).toEqual({ type: 'json_object' });
    expect(body.tools).toEqual([{ type: 'function', function: { name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }]);
    expect(body.messages).toEqual([
      { role: 'system', content: JSON_INSTRUCTION }, // JSON mode answers 400 unless a message says JSON
      { role: 'user', content: 'q' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] },
      { role: 'tool', content: 'result', tool_call_id: 'call_9' },
    ]);
  });

  it('is cold: no request until subscribed, one request per subscription', async () => {
    server.setFallback(openaiStream({ text: ['x'] }));
    const o = provider().stream(REQ);
    expect(server.requests).toHaveLength(0);
    await lastValueFrom(o.pipe(toArray()));
    await lastValueFrom(o.pipe(toArray()));
    expect(server.requests).toHaveLength(2);
  });
});

describe('OpenAI provider: failures become ProviderErrors', () => {
  it('429 rate limit: RATE_LIMITED, retriable, status 429, retryAfterMs from retry-after', async () => {
    server.enqueue(openai429(2));
    const { error, events } = await failure();
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retriable: true, status: 429, retryAfterMs: 2000, requestId: 'req_rl', provider: 'openai', model: 'gpt-4o-mini' });
    expect(error.message).toContain('Rate limit reached');
  });

  it('429 with retry-after-ms prefers the ms header', async () => {
    server.enqueue(openai429(2, { 'retry-after-ms': '1234' }));
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retriable: true, retryAfterMs: 1234 });
  });

  it('429 insufficient_quota: QUOTA_EXHAUSTED, not retriable', async () => {
    server.enqueue(openaiQuota());
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'QUOTA_EXHAUSTED', retriable: false, status: 429 });
  });

  it('400 context_length_exceeded: CONTEXT_LENGTH_EXCEEDED, not retriable', async () => {
    server.enqueue(openaiContextLength());
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false, status: 400 });
    expect(error.message).toContain('maximum context length');
  });

  it('500: SERVER_ERROR, retriable', async () => {
    server.enqueue(openai500());
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'SERVER_ERROR', retriable: true, status: 500 });
  });

  it.each([
    [401, 'AUTHENTICATION', false, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }],
    [403, 'PERMISSION_DENIED', false, { error: { message: 'Country not supported', type: 'request_forbidden', param: null, code: 'unsupported_country_region_territory' } }],
    [404, 'NOT_FOUND', false, { error: { message: 'The model `gpt-9` does not exist', type: 'invalid_request_error', param: null, code: 'model_not_found' } }],
    [408, 'REQUEST_TIMEOUT', true, { error: { message: 'Request timed out', type: 'timeout', param: null, code: null } }],
    [409, 'CONFLICT', true, { error: { message: 'Conflict', type: 'conflict', param: null, code: null } }],
    [422, 'UNPROCESSABLE', false, { detail: [{ loc: ['body', 'messages'], msg: 'field required' }] }],
    [502, 'UNAVAILABLE', true, { error: { message: 'Bad gateway', type: 'server_error', param: null, code: null } }],
    [503, 'UNAVAILABLE', true, { error: { message: 'The engine is currently overloaded', type: 'server_error', param: null, code: null } }],
    [504, 'UNAVAILABLE', true, { error: { message: 'Gateway timeout', type: 'server_error', param: null, code: null } }],
  ] as const)('HTTP %i → %s, retriable %s', async (status, ours, retriable, body) => {
    server.enqueue(jsonError(status, body));
    const { error } = await failure();
    expect(error).toMatchObject({ code: ours, retriable, status });
  });

  it('x-should-retry overrides the table both ways', async () => {
    server.enqueue(jsonError(500, openaiErrorBody('x', 'server_error', null), { 'x-should-retry': 'false' }));
    expect((await failure()).error).toMatchObject({ code: 'SERVER_ERROR', retriable: false });
    server.enqueue(jsonError(400, openaiErrorBody('x', 'invalid_request_error', null), { 'x-should-retry': 'true' }));
    expect((await failure()).error).toMatchObject({ code: 'BAD_REQUEST', retriable: true });
  });

  it('a non-JSON error body still fails with the status (e.g. an HTML 502 from a proxy)', async () => {
    server.enqueue({ status: 502, headers: { 'content-type': 'text/html' }, steps: [write('<html>Bad gateway</html>')] });
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retriable: true, status: 502 });
    expect(error.message).toContain('Bad gateway');
  });

  it('an error object inside a 200 stream (data: {"error":...}) fails after the text before it', async () => {
    const ev = openaiEvents({ text: ['par', 'tial'] });
    server.enqueue(sseScript([...ev.slice(0, 3), sse(openaiErrorBody('The server had an error while processing your request.', 'server_error', null))]));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['par', 'tial']);
    expect(error).toMatchObject({ code: 'SERVER_ERROR', retriable: true, status: 200 });
    expect(error.message).toContain('The server had an error');
  });

  it('an `event: error` inside a 200 stream fails', async () => {
    const ev = openaiEvents({ text: ['a'] });
    server.enqueue(sseScript([...ev.slice(0, 2), sse({ error: { message: 'rate limited mid-stream', type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' } }, 'error')]));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['a']);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retriable: true });
  });

  it('a vLLM-style in-stream error with a numeric code (500) is a retriable SERVER_ERROR, even though [DONE] follows', async () => {
    const ev = openaiEvents({ text: ['a', 'b'] });
    server.enqueue(sseScript([...ev.slice(0, 2), sse({ error: { object: 'error', message: 'CUDA out of memory', type: 'InternalServerError', param: null, code: 500 } }), sse('[DONE]')]));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['a']);
    expect(error).toMatchObject({ code: 'SERVER_ERROR', retriable: true });
    expect(error.message).toContain('CUDA out of memory');
  });

  it('a vLLM-style in-stream error with code 400 is not retriable', async () => {
    server.enqueue(sseScript([sse({ error: { object: 'error', message: 'bad input', type: 'BadRequestError', param: null, code: 400 } }), sse('[DONE]')]));
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'BAD_REQUEST', retriable: false });
  });

  it('unparseable data is a BAD_STREAM failure', async () => {
    server.enqueue(sseScript([...openaiEvents({ text: ['a'] }).slice(0, 2), 'data: {not json\n\n']));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['a']);
    expect(error).toMatchObject({ code: 'BAD_STREAM', retriable: false });
  });

  it('a stream cut mid-way (socket destroyed) is a retriable STREAM_INTERRUPTED after the text before it', async () => {
    const ev = openaiEvents({ text: ['one', ' two', ' three'], usage: { prompt_tokens: 1, completion_tokens: 3 } });
    server.enqueue(sseScript([...ev.slice(0, 3), destroy()]));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['one', ' two']);
    expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
    expect(of(events, 'finish')).toEqual([]);
  });

  it('a stream that closes cleanly without [DONE] (finish and usage seen) is a retriable STREAM_INTERRUPTED', async () => {
    server.enqueue(openaiStream({ text: ['all', ' of', ' it'], usage: { prompt_tokens: 1, completion_tokens: 3 }, done: false }));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['all', ' of', ' it']);
    expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
    expect(error.message).toContain('[DONE]');
  });

  it('a 200 with an empty body is a retriable STREAM_INTERRUPTED', async () => {
    server.enqueue(sseScript([]));
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
  });

  it('a connection dropped before any response is a retriable CONNECTION error', async () => {
    server.enqueue({ dropConnection: true });
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'CONNECTION', retriable: true, provider: 'openai' });
    expect(error.status).toBeUndefined();
  });

  it('a refused connection is a retriable CONNECTION error', async () => {
    const dead = await startProviderServer();
    const url = dead.url;
    await dead.stop();
    const r = await drain(createOpenAIProvider({ baseUrl: `${url}/v1`, apiKey: 'k' }).stream(REQ));
    expect(r.error).toMatchObject({ code: 'CONNECTION', retriable: true });
  });
});

describe('OpenAI provider: cancellation aborts the HTTP request', () => {
  it('reports the model and completion id the first chunk names, once', async () => {
    server.enqueue(sseScript(openaiEvents({ id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG', model: 'gpt-4o-mini-2024-07-18', text: ['a', 'b'] })));
    const got = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(got.filter((e) => e.type === 'model')).toEqual([{ type: 'model', model: 'gpt-4o-mini-2024-07-18', id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG' }]);
  });

  it('unsubscribing mid-stream aborts the request (the server sees the client close)', async () => {
    const g = createGate();
    const ev = openaiEvents({ text: ['a', 'b', 'c'] });
    server.enqueue(sseScript([...ev.slice(0, 2), gate(g), ...ev.slice(2)]));
    const first = await lastValueFrom(provider().stream(REQ).pipe(take(3), toArray())); // response, model + 'a', then unsubscribe
    expect(first.map((e) => e.type)).toEqual(['response', 'model', 'text']);
    const r = await server.request(0);
    expect(await r.closed).toEqual({ clientAborted: true });
    expect(r.responseEnded).toBe(false);
    g.release();
  });

  it('aborting the signal mid-stream errors with its reason and aborts the request', async () => {
    const g = createGate();
    const ev = openaiEvents({ text: ['a', 'b'] });
    server.enqueue(sseScript([...ev.slice(0, 2), gate(g), ...ev.slice(2)]));
    const ctl = new AbortController();
    const reason = new Error('user cancelled');
    const seen: ProviderEvent[] = [];
    const done = new Promise<unknown>((resolve) => {
      provider().stream(REQ, ctl.signal).subscribe({
        next: (e) => {
          seen.push(e);
          if (e.type === 'text') ctl.abort(reason);
        },
        error: resolve,
        complete: () => resolve('completed'),
      });
    });
    expect(await done).toBe(reason);
    expect(texts(seen)).toEqual(['a']);
    const r = await server.request(0);
    expect(await r.closed).toEqual({ clientAborted: true });
    g.release();
  });

  it('aborting while waiting for the response headers aborts the request', async () => {
    const held = createGate();
    server.enqueue({ ...openaiStream({ text: ['late'] }), holdHeaders: held });
    const ctl = new AbortController();
    const done = drain(provider().stream(REQ, ctl.signal));
    const r = await server.request(0);
    ctl.abort(new Error('stop waiting'));
    const out = await done;
    expect(out.values).toEqual([]);
    expect((out.error as Error).message).toBe('stop waiting');
    expect(await r.closed).toEqual({ clientAborted: true });
    held.release();
  });

  it('an already-aborted signal errors with its reason', async () => {
    server.setFallback(openaiStream({ text: ['x'] }));
    const reason = new Error('too late');
    const out = await drain(provider().stream(REQ, AbortSignal.abort(reason)));
    expect(out.error).toBe(reason);
    expect(out.values).toEqual([]);
  });
});

describe('OpenAI provider through the llm operator', () => {
  it('joins tool-call fragments into parsed arguments on the node output', async () => {
    const weather = defineTool({
      name: 'get_weather',
      description: 'Weather of a city',
      input: z.object({ city: z.string(), unit: z.enum(['c', 'f']).optional() }),
      run: ({ city }) => `sunny in ${city}`,
    });
    server.enqueue(openaiStream({
      text: ['Let me check.'],
      toolCalls: [
        { id: 'call_a', name: 'get_weather', fragments: ['{"', 'city', '":"', 'Paris', '","unit":"c"}'] },
        { id: 'call_b', name: 'get_weather', fragments: ['{"city":', '"Oslo"}'] },
      ],
      usage: { prompt_tokens: 80, completion_tokens: 30 },
    }));
    const engine = createEngine({ models: createModels({ providers: [provider()] }) });
    const t = topology('tools')
      .llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'Weather in Paris and Oslo?', tools: [weather] })
      .build({ output: 'a' });
    const result = await engine.run(t, undefined);
    expect(result.status, String(result.error)).toBe('completed');
    const out = result.output!;
    expect(out.text).toBe('Let me check.');
    expect(out.finishReason).toBe('tool_calls');
    expect(out.toolCalls).toEqual([
      { id: 'call_a', name: 'get_weather', raw: '{"city":"Paris","unit":"c"}', arguments: { city: 'Paris', unit: 'c' } },
      { id: 'call_b', name: 'get_weather', raw: '{"city":"Oslo"}', arguments: { city: 'Oslo' } },
    ]);
    const { body } = await server.request(0);
    expect(body.tools[0].type).toBe('function');
    expect(body.tools[0].function.name).toBe('get_weather');
    expect(body.tools[0].function.description).toBe('Weather of a city');
    expect(body.tools[0].function.parameters).toMatchObject({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] });
    await engine.shutdown();
  });

  it('tool calls without an index (Gemini style) stay separate calls', async () => {
    const head = { id: 'g1', model: 'gemini-2.5-flash' };
    const call = (id: string, city: string) => sse(openaiChunk(head, {
      delta: { role: 'assistant', tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: `{"city":"${city}"}` } }] },
      finish_reason: null,
    }));
    server.enqueue(sseScript([call('call_p', 'Paris'), call('call_o', 'Oslo'), sse(openaiChunk(head, { delta: {}, finish_reason: 'tool_calls' })), sse('[DONE]')]));
    const weather = defineTool({ name: 'get_weather', input: z.object({ city: z.string() }), run: ({ city }) => city });
    const engine = createEngine({ models: createModels({ providers: [provider()] }) });
    const t = topology('gemini').llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'x', tools: [weather] }).build({ output: 'a' });
    const result = await engine.run(t, undefined);
    await engine.shutdown();
    expect(result.status).toBe('completed');
    expect(result.output!.toolCalls.map((c) => [c.id, c.arguments])).toEqual([['call_p', { city: 'Paris' }], ['call_o', { city: 'Oslo' }]]);
  });
});
