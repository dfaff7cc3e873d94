/**
 * The Anthropic Messages provider against a local server that writes byte-exact
 * Messages streams: text and tool-use blocks, ping and unknown events, cumulative
 * usage (cache tokens included in our inputTokens), stop reasons, the request on
 * the wire, every failure mapped to a ProviderError, and aborts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastValueFrom, take, toArray } from 'rxjs';
import { z } from 'zod';
import { createEngine, createModels, defineTool, isProviderError, topology, type ProviderError } from '../index.ts';
import { createAnthropicProvider } from './anthropic.ts';
import type { CompletionRequest, ProviderEvent } from './types.ts';
import {
  anthropic429, anthropic529, anthropicErrorBody, anthropicEvents, anthropicStream, createGate, delay, destroy, drain, gate,
  interleave, jsonError, sse, sseScript, startProviderServer, type ProviderServer,
} from '../../test/support/provider-server.ts';

let server: ProviderServer;
beforeAll(async () => {
  server = await startProviderServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => server.reset());

const REQ: CompletionRequest = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Say hello' }] };
const provider = (extra: Parameters<typeof createAnthropicProvider>[0] = {}) =>
  createAnthropicProvider({ baseUrl: server.url, apiKey: 'sk-ant-test', ...extra });

const texts = (events: readonly ProviderEvent[]): string[] => events.flatMap((e) => (e.type === 'text' ? [e.text] : []));
const of = <K extends ProviderEvent['type']>(events: readonly ProviderEvent[], type: K) =>
  events.filter((e): e is Extract<ProviderEvent, { type: K }> => e.type === type);
const lastUsage = (events: readonly ProviderEvent[]) => of(events, 'usage').at(-1)?.usage;

async function failure(req: CompletionRequest = REQ): Promise<{ error: ProviderError; events: ProviderEvent[] }> {
  const r = await drain(provider().stream(req));
  expect(r.completed).toBe(false);
  expect(isProviderError(r.error), `expected a ProviderError, got ${String(r.error)}`).toBe(true);
  return { error: r.error as ProviderError, events: r.values };
}

describe('Anthropic provider: streaming', () => {
  it('emits the text deltas the server sent, in order; ping is ignored', async () => {
    const pieces = ['Hello', ', ', 'world', '!'];
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: pieces }] }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events)).toEqual(pieces);
    expect(events[0]).toMatchObject({ type: 'response', status: 200 });
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'stop' }]);
  });

  it('ignores unknown event types and thinking blocks', async () => {
    const ev = anthropicEvents({ blocks: [{ type: 'thinking', deltas: ['Let me think', '...'] }, { type: 'text', deltas: ['A', 'B'] }] });
    // unknown events anywhere, including a brand-new event type and an unknown delta type
    const script = [
      ev[0]!, sse({ type: 'message_future', foo: 1 }, 'message_future'),
      ...ev.slice(1, 5),
      sse({ type: 'content_block_delta', index: 1, delta: { type: 'citations_delta', citation: { type: 'char_location' } } }, 'content_block_delta'),
      ...ev.slice(5),
    ];
    server.enqueue(sseScript(script));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events)).toEqual(['A', 'B']);
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'stop' }]);
  });

  it('streams slow tokens (tiny delays between events)', async () => {
    const pieces = ['s', 'l', 'o', 'w'];
    server.enqueue(sseScript(interleave(anthropicEvents({ blocks: [{ type: 'text', deltas: pieces }] }), delay(1))));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(texts(events)).toEqual(pieces);
  });

  it('usage: inputTokens = input + cache_read + cache_creation; cachedTokens = cache_read; message_delta overwrites', async () => {
    server.enqueue(anthropicStream({
      blocks: [{ type: 'text', deltas: ['x'] }],
      startUsage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 50, output_tokens: 1 },
      deltaUsage: { output_tokens: 42 },
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    const usages = of(events, 'usage').map((e) => e.usage);
    expect(usages[0]).toEqual({ inputTokens: 1150, outputTokens: 1, cachedTokens: 1000, reasoningTokens: 0, cacheWriteTokens: 50 });
    expect(of(events, 'usage').map((e) => e.final)).toEqual([false, true]); // message_start's count is a snapshot
    expect(lastUsage(events)).toEqual({ inputTokens: 1150, outputTokens: 42, cachedTokens: 1000, reasoningTokens: 0, cacheWriteTokens: 50 });
  });

  it('cumulative message_delta usage that repeats input and cache counts is not added twice', async () => {
    server.enqueue(anthropicStream({
      blocks: [{ type: 'text', deltas: ['x'] }],
      startUsage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 50, output_tokens: 1 },
      deltaUsage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 50, output_tokens: 42 },
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(lastUsage(events)).toEqual({ inputTokens: 1150, outputTokens: 42, cachedTokens: 1000, reasoningTokens: 0, cacheWriteTokens: 50 });
  });

  it('null cache fields count as zero', async () => {
    server.enqueue(anthropicStream({
      blocks: [{ type: 'text', deltas: ['x'] }],
      startUsage: { input_tokens: 12, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 1 },
      deltaUsage: { output_tokens: 3 },
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(lastUsage(events)).toEqual({ inputTokens: 12, outputTokens: 3, cachedTokens: 0, reasoningTokens: 0, cacheWriteTokens: 0 });
  });

  it.each([
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['max_tokens', 'length'], ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'], ['pause_turn', 'other'], ['model_context_window_exceeded', 'other'],
  ])('maps stop_reason %s to %s', async (wire, ours) => {
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: ['t'] }], stopReason: wire }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: ours }]);
  });

  it('tool_use blocks: id and name first, input_json_delta fragments after, indexed from 0 after a text block', async () => {
    server.enqueue(anthropicStream({
      blocks: [
        { type: 'text', deltas: ['Checking.'] },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', fragments: ['', '{"city": "Pa', 'ris"}'] },
        { type: 'tool_use', id: 'toolu_02', name: 'get_time', fragments: ['{"tz":', '"CET"}'] },
      ],
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    const calls = of(events, 'tool_call');
    expect(calls[0]).toEqual({ type: 'tool_call', index: 0, id: 'toolu_01', name: 'get_weather', arguments: '' });
    const joined: Record<number, string> = {};
    for (const c of calls) joined[c.index] = (joined[c.index] ?? '') + c.arguments;
    expect(joined).toEqual({ 0: '{"city": "Paris"}', 1: '{"tz":"CET"}' });
    expect(calls.filter((c) => c.id !== undefined).map((c) => [c.index, c.id, c.name])).toEqual([[0, 'toolu_01', 'get_weather'], [1, 'toolu_02', 'get_time']]);
    expect(texts(events)).toEqual(['Checking.']);
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'tool_calls' }]);
  });

  it('reports anthropic-ratelimit-* headers and request-id on the response event', async () => {
    const reset = new Date(Date.now() + 3_600_000).toISOString();
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: ['x'] }] }, {
      'request-id': 'req_011', 'anthropic-ratelimit-requests-remaining': '7', 'anthropic-ratelimit-tokens-remaining': '1234',
      'anthropic-ratelimit-requests-reset': reset, 'anthropic-ratelimit-tokens-reset': reset,
    }));
    const events = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    const resp = of(events, 'response')[0]!;
    expect(resp.requestId).toBe('req_011');
    expect(resp.rateLimit.remainingRequests).toBe(7);
    expect(resp.rateLimit.remainingTokens).toBe(1234);
    // an RFC 3339 reset about an hour ahead (not a wall-clock assertion: generous bounds)
    expect(resp.rateLimit.resetRequestsMs).toBeGreaterThan(3_000_000);
    expect(resp.rateLimit.resetRequestsMs).toBeLessThanOrEqual(3_600_000);
  });
});

describe('Anthropic provider: the request on the wire', () => {
  it('POSTs {baseUrl}/v1/messages with x-api-key and anthropic-version, system separated, max_tokens, stream: true', async () => {
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: ['x'] }] }));
    await lastValueFrom(provider().stream({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'system', content: 'Be kind.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: 'Again' },
      ],
      maxTokens: 300, temperature: 0.5, stop: ['END'],
    }).pipe(toArray()));
    const r = await server.request(0);
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/messages');
    expect(r.headers['x-api-key']).toBe('sk-ant-test');
    expect(r.headers['anthropic-version']).toBe('2023-06-01');
    expect(r.headers['authorization']).toBeUndefined();
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toEqual({
      model: 'claude-sonnet-4-5',
      system: 'Be brief.\n\nBe kind.',
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Again' }],
      max_tokens: 300, stream: true, temperature: 0.5, stop_sequences: ['END'],
    });
  });

  it('defaults max_tokens (1024, or defaultMaxTokens) and sends no system without system messages', async () => {
    server.setFallback(anthropicStream({ blocks: [{ type: 'text', deltas: ['x'] }] }));
    await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    await lastValueFrom(provider({ defaultMaxTokens: 4096 }).stream(REQ).pipe(toArray()));
    expect((await server.request(0)).body.max_tokens).toBe(1024);
    expect((await server.request(0)).body).not.toHaveProperty('system');
    expect((await server.request(1)).body.max_tokens).toBe(4096);
  });

  it('sends tools with input_schema and tool turns as tool_use / tool_result blocks', async () => {
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: ['ok'] }] }));
    await lastValueFrom(provider().stream({
      model: 'claude-sonnet-4-5',
      tools: [{ name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'Looking.', toolCalls: [{ id: 'toolu_9', name: 'lookup', arguments: '{"q":"x"}' }] },
        { role: 'tool', content: 'result', toolCallId: 'toolu_9' },
      ],
    }).pipe(toArray()));
    const { body } = await server.request(0);
    expect(body.tools).toEqual([{ name: 'lookup', description: '', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }]);
    expect(body.messages).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: [{ type: 'text', text: 'Looking.' }, { type: 'tool_use', id: 'toolu_9', name: 'lookup', input: { q: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'result' }] },
    ]);
  });
});

describe('Anthropic provider: failures become ProviderErrors', () => {
  it('529 overloaded_error: OVERLOADED, retriable, status 529', async () => {
    server.enqueue(anthropic529());
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'OVERLOADED', retriable: true, status: 529, provider: 'anthropic', model: 'claude-sonnet-4-5', requestId: 'req_overloaded' });
    expect(error.message).toContain('Overloaded');
  });

  it('429 rate_limit_error: RATE_LIMITED, retriable, retryAfterMs from retry-after', async () => {
    server.enqueue(anthropic429(3));
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retriable: true, status: 429, retryAfterMs: 3000 });
  });

  it.each([
    [400, 'invalid_request_error', 'BAD_REQUEST', false],
    [401, 'authentication_error', 'AUTHENTICATION', false],
    [403, 'permission_error', 'PERMISSION_DENIED', false],
    [404, 'not_found_error', 'NOT_FOUND', false],
    [413, 'request_too_large', 'REQUEST_TOO_LARGE', false],
    [500, 'api_error', 'SERVER_ERROR', true],
  ] as const)('HTTP %i %s → %s, retriable %s', async (status, type, ours, retriable) => {
    server.enqueue(jsonError(status, anthropicErrorBody(type, `a ${type}`)));
    const { error } = await failure();
    expect(error).toMatchObject({ code: ours, retriable, status });
    expect(error.message).toContain(`a ${type}`);
  });

  it('a prompt that is too long (400 invalid_request_error) is not retriable', async () => {
    server.enqueue(jsonError(400, anthropicErrorBody('invalid_request_error', 'prompt is too long: 215000 tokens > 200000 maximum')));
    const { error } = await failure();
    expect(error.retriable).toBe(false);
    expect(error.status).toBe(400);
  });

  it('`event: error` inside a 200 stream (overloaded) fails retriably after the text before it', async () => {
    const ev = anthropicEvents({ blocks: [{ type: 'text', deltas: ['par', 'tial', 'never'] }] });
    // message_start, ping, block_start, two deltas, then the error
    server.enqueue(sseScript([...ev.slice(0, 5), sse(anthropicErrorBody('overloaded_error', 'Overloaded'), 'error')]));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['par', 'tial']);
    expect(error).toMatchObject({ code: 'OVERLOADED', retriable: true, status: 200 });
  });

  it('`event: error` with api_error is a retriable SERVER_ERROR', async () => {
    server.enqueue(sseScript([...anthropicEvents({ blocks: [{ type: 'text', deltas: ['a'] }] }).slice(0, 2), sse(anthropicErrorBody('api_error', 'Internal server error'), 'error')]));
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'SERVER_ERROR', retriable: true });
  });

  it('a stream cut mid-way is a retriable STREAM_INTERRUPTED after the text before it', async () => {
    const ev = anthropicEvents({ blocks: [{ type: 'text', deltas: ['one', ' two', ' three'] }] });
    server.enqueue(sseScript([...ev.slice(0, 5), destroy()]));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['one', ' two']);
    expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
  });

  it('a stream that closes without message_stop (even after message_delta) is a retriable STREAM_INTERRUPTED', async () => {
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: ['all', ' of', ' it'] }], stop: false }));
    const { error, events } = await failure();
    expect(texts(events)).toEqual(['all', ' of', ' it']);
    expect(of(events, 'finish')).toEqual([{ type: 'finish', reason: 'stop' }]);
    expect(error).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
    expect(error.message).toContain('message_stop');
  });

  it('a connection dropped before any response is a retriable CONNECTION error', async () => {
    server.enqueue({ dropConnection: true });
    const { error } = await failure();
    expect(error).toMatchObject({ code: 'CONNECTION', retriable: true });
  });
});

describe('Anthropic provider: cancellation aborts the HTTP request', () => {
  it('reports the model and message id that message_start names, once, before the usage snapshot', async () => {
    server.enqueue(sseScript(anthropicEvents({ id: 'msg_01XFDUDYJgAACzvnptvVoYEL', model: 'claude-sonnet-4-5-20250929', blocks: [{ type: 'text', deltas: ['a'] }] })));
    const got = await lastValueFrom(provider().stream(REQ).pipe(toArray()));
    expect(got.filter((e) => e.type === 'model')).toEqual([{ type: 'model', model: 'claude-sonnet-4-5-20250929', id: 'msg_01XFDUDYJgAACzvnptvVoYEL' }]);
    expect(got.map((e) => e.type).slice(0, 3)).toEqual(['response', 'model', 'usage']);
  });

  it('unsubscribing mid-stream aborts the request', async () => {
    const g = createGate();
    const ev = anthropicEvents({ blocks: [{ type: 'text', deltas: ['a', 'b'] }] });
    server.enqueue(sseScript([...ev.slice(0, 4), gate(g), ...ev.slice(4)]));
    const got = await lastValueFrom(provider().stream(REQ).pipe(take(4), toArray())); // response, model, usage, text 'a'
    expect(got.map((e) => e.type)).toEqual(['response', 'model', 'usage', 'text']);
    const r = await server.request(0);
    expect(await r.closed).toEqual({ clientAborted: true });
    g.release();
  });

  it('aborting the signal mid-stream errors with its reason and aborts the request', async () => {
    const g = createGate();
    const ev = anthropicEvents({ blocks: [{ type: 'text', deltas: ['a', 'b'] }] });
    server.enqueue(sseScript([...ev.slice(0, 4), gate(g), ...ev.slice(4)]));
    const ctl = new AbortController();
    const reason = new Error('cancel');
    const seen: ProviderEvent[] = [];
    const err = await new Promise<unknown>((resolve) => {
      provider().stream(REQ, ctl.signal).subscribe({
        next: (e) => {
          seen.push(e);
          if (e.type === 'text') ctl.abort(reason);
        },
        error: resolve,
        complete: () => resolve('completed'),
      });
    });
    expect(err).toBe(reason);
    expect(texts(seen)).toEqual(['a']);
    expect(await (await server.request(0)).closed).toEqual({ clientAborted: true });
    g.release();
  });
});

describe('Anthropic provider through the llm operator', () => {
  it('joins input_json_delta fragments into parsed tool-call arguments', async () => {
    const weather = defineTool({
      name: 'get_weather',
      description: 'Weather of a city',
      input: z.object({ city: z.string() }),
      run: ({ city }) => `sunny in ${city}`,
    });
    server.enqueue(anthropicStream({
      blocks: [
        { type: 'text', deltas: ['I will check.'] },
        { type: 'tool_use', id: 'toolu_A', name: 'get_weather', fragments: ['', '{"ci', 'ty": "Par', 'is"}'] },
      ],
      startUsage: { input_tokens: 400, output_tokens: 1 },
      deltaUsage: { output_tokens: 60 },
    }));
    const engine = createEngine({ models: createModels({ providers: [provider()] }) });
    const t = topology('tools')
      .llm('a', { model: 'anthropic:claude-sonnet-4-5', system: 'Use tools.', prompt: () => 'Weather in Paris?', tools: [weather] })
      .build({ output: 'a' });
    const result = await engine.run(t, undefined);
    expect(result.status, String(result.error)).toBe('completed');
    const out = result.output!;
    expect(out.text).toBe('I will check.');
    expect(out.finishReason).toBe('tool_calls');
    expect(out.toolCalls).toEqual([{ id: 'toolu_A', name: 'get_weather', raw: '{"city": "Paris"}', arguments: { city: 'Paris' } }]);
    expect(out.usage).toEqual({ inputTokens: 400, outputTokens: 60, cachedTokens: 0, reasoningTokens: 0, cacheWriteTokens: 0, estimated: false });
    const { body } = await server.request(0);
    expect(body.system).toBe('Use tools.');
    expect(body.tools[0]).toMatchObject({ name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } } } });
    await engine.shutdown();
  });
});
