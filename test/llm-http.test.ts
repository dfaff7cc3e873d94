/**
 * End to end over real HTTP: an engine whose models are the OpenAI and Anthropic
 * providers pointed at a local scripted server. Tokens reach a streaming
 * consumer and the bus in order, usage and cost add up, provider failures fail
 * the run with the ProviderError as cause, aborting a run (or a consumer's stop)
 * aborts the HTTP request, and structured output is parsed from the streamed JSON.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { z } from 'zod';
import {
  createEngine, createModels, estimateTokens, isNodeError, isProviderError, isValidationError,
  topology, type Engine, type ProviderError, type StreamChunk,
} from '../src/index.ts';
import { createAnthropicProvider, createOpenAIProvider } from '../src/providers/index.ts';
import { flush } from './support/helpers.ts';
import {
  anthropic529, anthropicStream, createGate, delay, destroy, gate, interleave, openai429, openaiContextLength, openaiEvents,
  openaiStream, sseScript, startProviderServer, type ProviderServer, type RecordedRequest, type Script,
} from './support/provider-server.ts';

let server: ProviderServer;
let engine: Engine;

beforeAll(async () => {
  server = await startProviderServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(async () => {
  server.reset();
  engine = createEngine({
    models: createModels({
      providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'k' }), createAnthropicProvider({ baseUrl: server.url, apiKey: 'k' })],
    }),
    // default retries (3 attempts), with tiny backoff so retried tests stay fast
    resilience: { retry: { initialDelayMs: 1, maxDelayMs: 2 } },
  });
  return async () => {
    await engine.shutdown({ mode: 'cancel', timeoutMs: 1000 });
  };
});

/** Answers by path, so both providers can share one server. */
const byApi = (openai: Script, anthropic: Script) => (req: RecordedRequest): Script =>
  req.path.endsWith('/messages') ? anthropic : openai;

type TokenEvent = { type: 'node.token'; nodeId: string; index: number; text: string; runId: string };

/** `a` (llm) streams into `c`, which collects every chunk it sees. */
function streamingTopology(model: string) {
  return topology('http-stream', { input: z.object({ q: z.string() }) })
    .llm('a', { model, system: 'Answer briefly.', prompt: ({ input }) => input.q, maxTokens: 50 })
    .map('c', {
      streamFrom: 'a',
      run: (ctx) => lastValueFrom(ctx.tokens('a').pipe(toArray())),
    })
    .build({ output: 'c' });
}

/** The first ProviderError in an error's cause chain. */
function providerCause(e: unknown): ProviderError | undefined {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 6; x = (x as { cause?: unknown }).cause, depth++) {
    if (isProviderError(x)) return x;
  }
  return undefined;
}

const tokenTexts = (chunks: readonly StreamChunk[]): string[] => chunks.flatMap((c) => (c.kind === 'token' ? [c.text] : []));

describe('llm over HTTP: tokens, usage, cost', () => {
  it('OpenAI: the consumer and the bus see the tokens the server sent, in order; usage and cost match', async () => {
    const pieces = ['Back', 'pressure', ' keeps', ' memory', ' bounded', '.'];
    server.enqueue(sseScript(interleave(openaiEvents({
      text: pieces,
      usage: { prompt_tokens: 1000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 200 }, completion_tokens_details: { reasoning_tokens: 0 } },
    }), delay(1))));
    const tokens: TokenEvent[] = [];
    const sub = engine.events$.subscribe((e) => {
      if (e.type === 'node.token') tokens.push(e as TokenEvent);
    });
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'How?' });
    sub.unsubscribe();
    expect(result.status, String(result.error)).toBe('completed');

    expect(tokenTexts(result.output!)).toEqual(pieces);
    expect(result.output!.map((c) => (c.kind === 'token' ? c.index : -1))).toEqual(pieces.map((_, i) => i));
    expect(tokens.map((t) => [t.nodeId, t.index, t.text])).toEqual(pieces.map((p, i) => ['a', i, p]));
    expect(new Set(tokens.map((t) => t.runId))).toEqual(new Set([result.runId]));

    const a = result.outputs.a!;
    expect(a.text).toBe(pieces.join(''));
    expect(a.finishReason).toBe('stop');
    expect(a.model).toBe('openai:gpt-4o-mini');
    expect(a.simulated).toBe(false);
    expect(a.usage).toEqual({ inputTokens: 1000, outputTokens: 500, cachedTokens: 200, reasoningTokens: 0, estimated: false });
    // gpt-4o-mini: 0.15 / 0.60 per million, cached input 0.075
    const cost = (800 * 0.15 + 200 * 0.075 + 500 * 0.6) / 1e6;
    expect(a.costUsd).toBeCloseTo(cost, 12);
    expect(result.usage).toMatchObject({ inputTokens: 1000, outputTokens: 500, cachedTokens: 200, reasoningTokens: 0, calls: 1 });
    expect(result.usage.costUsd).toBeCloseTo(cost, 12);
    expect(result.usage.byNode['a']).toMatchObject({ inputTokens: 1000, outputTokens: 500, calls: 1 });
    expect(engine.usage().costUsd).toBeCloseTo(cost, 12);

    const req = await server.request(0);
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers['authorization']).toBe('Bearer k');
    expect(req.body).toMatchObject({
      model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, max_tokens: 50,
      messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'How?' }],
    });
  });

  it('Anthropic: same pipeline; cache reads and writes count as input, cost uses the model price', async () => {
    const pieces = ['Stages', ' admit', ' work', ' when', ' slots', ' free.'];
    server.setFallback(byApi(openaiStream({ text: ['wrong api'] }), anthropicStream({
      blocks: [{ type: 'text', deltas: pieces }],
      startUsage: { input_tokens: 100, cache_read_input_tokens: 1000, cache_creation_input_tokens: 40, output_tokens: 1 },
      deltaUsage: { output_tokens: 42 },
    })));
    const tokens: TokenEvent[] = [];
    const sub = engine.events$.subscribe((e) => {
      if (e.type === 'node.token') tokens.push(e as TokenEvent);
    });
    const result = await engine.run(streamingTopology('anthropic:claude-haiku-4-5'), { q: 'How?' });
    sub.unsubscribe();
    expect(result.status, String(result.error)).toBe('completed');
    expect(tokenTexts(result.output!)).toEqual(pieces);
    expect(tokens.map((t) => t.text)).toEqual(pieces);
    const a = result.outputs.a!;
    expect(a.usage).toEqual({ inputTokens: 1140, outputTokens: 42, cachedTokens: 1000, reasoningTokens: 0, cacheWriteTokens: 40, estimated: false });
    // claude-haiku-4-5: 1 / 5 per million, cached input 0.1, cache writes 1.25 (Anthropic bills them at 1.25x input)
    expect(a.costUsd).toBeCloseTo((100 * 1 + 1000 * 0.1 + 40 * 1.25 + 42 * 5) / 1e6, 12);
    const req = await server.request(0);
    expect(req.path).toBe('/v1/messages');
    expect(req.body).toMatchObject({ model: 'claude-haiku-4-5', system: 'Answer briefly.', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'How?' }] });
  });

  it('without usage from the server, usage is estimated with the tokenizer', async () => {
    const pieces = ['Hello', ' there', ', friend'];
    server.enqueue(openaiStream({ text: pieces }));
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'Hi' });
    expect(result.status, String(result.error)).toBe('completed');
    const a = result.outputs.a!;
    expect(a.usage.estimated).toBe(true);
    expect(a.usage.outputTokens).toBe(estimateTokens(pieces.join('')));
    expect(a.usage.inputTokens).toBeGreaterThan(0);
    expect(a.costUsd).toBeGreaterThan(0);
  });
});

describe('llm over HTTP: failures', () => {
  /** An engine that does not retry model calls, so the ProviderError is the node's direct cause. */
  const noRetries = (): Engine => createEngine({
    models: createModels({
      providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'k' }), createAnthropicProvider({ baseUrl: server.url, apiKey: 'k' })],
    }),
    resilience: { retry: { maxAttempts: 1 } },
  });

  it('a non-retriable provider failure fails the run at once with the ProviderError as cause', async () => {
    server.setFallback(openaiContextLength());
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'long' });
    expect(result.status).toBe('failed');
    const error = result.error!;
    expect(isNodeError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false });
    const cause = error.cause as ProviderError;
    expect(isProviderError(cause)).toBe(true);
    expect(cause).toMatchObject({ code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false, status: 400, provider: 'openai', model: 'gpt-4o-mini' });
    expect(result.outputs).not.toHaveProperty('a');
    expect(server.requests).toHaveLength(1); // not retried
  });

  it('without retries, a 429 fails the run with the retriable RATE_LIMITED ProviderError (retryAfterMs) as cause', async () => {
    const e = noRetries();
    server.setFallback(openai429(0, { 'retry-after-ms': '5' }));
    const result = await e.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    await e.shutdown();
    expect(server.requests).toHaveLength(1);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'RATE_LIMITED', retriable: true }); // today: RETRIES_EXHAUSTED, retriable false
    const cause = result.error!.cause as ProviderError;
    expect(isProviderError(cause)).toBe(true);
    expect(cause).toMatchObject({ code: 'RATE_LIMITED', retriable: true, status: 429, retryAfterMs: 5 });
  });

  it('without retries, one request is made and the ProviderError is in the cause chain', async () => {
    const e = noRetries();
    server.setFallback(openai429(0, { 'retry-after-ms': '5' }));
    const result = await e.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    await e.shutdown();
    expect(server.requests).toHaveLength(1);
    expect(result.status).toBe('failed');
    expect(providerCause(result.error)).toMatchObject({ code: 'RATE_LIMITED', retriable: true, status: 429, retryAfterMs: 5 });
  });

  it('Anthropic 529 fails the run with a retriable OVERLOADED ProviderError in the cause chain', async () => {
    const e = noRetries();
    server.setFallback(anthropic529());
    const result = await e.run(streamingTopology('anthropic:claude-sonnet-4-5'), { q: 'x' });
    await e.shutdown();
    expect(result.status).toBe('failed');
    expect(providerCause(result.error)).toMatchObject({ code: 'OVERLOADED', retriable: true, status: 529, provider: 'anthropic' });
  });

  it('a retriable failure that persists is retried, then fails with RETRIES_EXHAUSTED whose cause is the ProviderError', async () => {
    server.setFallback(openai429(0, { 'retry-after-ms': '2' }));
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    expect(result.status).toBe('failed');
    expect(server.requests).toHaveLength(3); // default maxAttempts
    expect(result.error).toMatchObject({ code: 'RETRIES_EXHAUSTED', nodeId: 'a' });
    const last = (result.error!.cause as Error).cause as ProviderError;
    expect(isProviderError(last)).toBe(true);
    expect(last).toMatchObject({ code: 'RATE_LIMITED', retriable: true, status: 429, retryAfterMs: 2 });
  });

  it('a 429 then a good answer: the run completes after one retry', async () => {
    server.enqueue(openai429(0, { 'retry-after-ms': '1' }), openaiStream({ text: ['ok', '!'], usage: { prompt_tokens: 4, completion_tokens: 2 } }));
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    expect(result.status, String(result.error)).toBe('completed');
    expect(tokenTexts(result.output!)).toEqual(['ok', '!']);
    expect(server.requests).toHaveLength(2);
    expect(result.usage.calls).toBe(1);
  });

  it('a stream cut mid-way is retried; the consumer sees a restart marker, then the whole new answer', async () => {
    const first = openaiEvents({ text: ['Par', 'tial'] });
    server.enqueue(
      sseScript([...first.slice(0, 3), destroy()]),
      openaiStream({ text: ['Whole', ' answer'], usage: { prompt_tokens: 4, completion_tokens: 2 } }),
    );
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    expect(result.status, String(result.error)).toBe('completed');
    const kinds = result.output!.map((c) => (c.kind === 'token' ? c.text : `<${c.kind}>`));
    expect(kinds).toEqual(['Par', 'tial', '<restart>', 'Whole', ' answer']);
    expect(result.outputs.a!.text).toBe('Whole answer');
    // the cut first attempt is billed too (estimated from what it streamed): two calls
    expect(result.outputs.a!.usage).toMatchObject({ inputTokens: 4, outputTokens: 2, estimated: false });
    expect(result.usage).toMatchObject({ outputTokens: 2 + engine.models.countTokens('Partial'), calls: 2 });
  });

  it('without retries, a stream closed without [DONE] fails with STREAM_INTERRUPTED after the consumer saw the tokens', async () => {
    const e = noRetries();
    server.setFallback(openaiStream({ text: ['half', ' an', ' answer'], done: false }));
    const seen: string[] = [];
    const t = topology('cut')
      .llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'x' })
      .map('c', {
        streamFrom: 'a',
        run: (ctx) => new Promise<void>((resolve, reject) => {
          ctx.tokens('a').subscribe({ next: (c) => void (c.kind === 'token' && seen.push(c.text)), error: reject, complete: resolve });
        }),
      })
      .build();
    const result = await e.run(t, undefined);
    await e.shutdown();
    expect(result.status).toBe('failed');
    expect(seen).toEqual(['half', ' an', ' answer']);
    expect(providerCause(result.error)).toMatchObject({ code: 'STREAM_INTERRUPTED', retriable: true });
  });
});

describe('llm over HTTP: cancellation', () => {
  it('aborting the run aborts the HTTP request', async () => {
    const g = createGate();
    const ev = openaiEvents({ text: ['a', 'b', 'c'], usage: { prompt_tokens: 3, completion_tokens: 3 } });
    server.enqueue(sseScript([...ev.slice(0, 3), gate(g), ...ev.slice(3)]));
    const ctl = new AbortController();
    const sub = engine.events$.subscribe((e) => {
      if (e.type === 'node.token' && (e as TokenEvent).index === 1) ctl.abort(new Error('user pressed stop'));
    });
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' }, { signal: ctl.signal });
    sub.unsubscribe();
    expect(result.status).toBe('cancelled');
    const req = await server.request(0);
    expect(await req.closed).toEqual({ clientAborted: true });
    expect(req.responseEnded).toBe(false);
    g.release();
  });

  it('a consumer stopping its producer aborts the HTTP request and keeps the partial text', async () => {
    const g = createGate();
    const ev = openaiEvents({ text: ['one', ' two', ' three', ' four'] });
    server.enqueue(sseScript([...ev.slice(0, 3), gate(g), ...ev.slice(3)]));
    const t = topology('stop')
      .llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'count' })
      .map('c', {
        streamFrom: 'a',
        run: (ctx) => new Promise<string[]>((resolve, reject) => {
          const got: string[] = [];
          ctx.tokens('a').subscribe({
            next: (c) => {
              if (c.kind !== 'token') return;
              got.push(c.text);
              if (got.length === 2) {
                ctx.stop('a', 'enough');
                resolve(got);
              }
            },
            error: reject,
          });
        }),
      })
      .build({ output: 'c' });
    const result = await engine.run(t, undefined);
    expect(result.status, String(result.error)).toBe('completed');
    expect(result.output).toEqual(['one', ' two']);
    expect(result.outputs.a).toMatchObject({ text: 'one two', finishReason: 'stopped' });
    const req = await server.request(0);
    expect(await req.closed).toEqual({ clientAborted: true });
    g.release();
  });
});

describe('llm over HTTP: timeouts and shutdown abort the HTTP request', () => {
  /** Two tokens, then the server holds the stream until the gate opens. */
  const held = (g: ReturnType<typeof createGate>): Script => {
    const ev = openaiEvents({ text: ['a', 'b', 'c'] });
    return sseScript([...ev.slice(0, 3), gate(g), ...ev.slice(3)]);
  };

  it('an idle timeout between tokens aborts the request and fails the node with TIMEOUT', async () => {
    const g = createGate();
    server.enqueue(held(g));
    const t = topology('idle')
      .llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'x', timeouts: { idleMs: 20 }, retry: { maxAttempts: 1 } })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status).toBe('failed');
    expect(JSON.stringify(result.error!.toJSON())).toContain('TIMEOUT');
    expect(await (await server.request(0)).closed).toEqual({ clientAborted: true });
    g.release();
  });

  it('a connect timeout (no response headers) aborts the request', async () => {
    const g = createGate();
    server.enqueue({ ...openaiStream({ text: ['late'] }), holdHeaders: g });
    const t = topology('connect')
      .llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'x', timeouts: { connectMs: 20 }, retry: { maxAttempts: 1 } })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status).toBe('failed');
    expect(await (await server.request(0)).closed).toEqual({ clientAborted: true });
    g.release();
  });

  it('a node timeout aborts the request', async () => {
    const g = createGate();
    server.enqueue(held(g));
    const t = topology('node-timeout')
      .llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'x', timeoutMs: 30, retry: { maxAttempts: 1 } })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'TIMEOUT' });
    expect(await (await server.request(0)).closed).toEqual({ clientAborted: true });
    g.release();
  });

  it('shutdown({ mode: "cancel" }) aborts requests in flight', async () => {
    const g = createGate();
    server.enqueue(held(g));
    const started = new Promise<void>((resolve) => {
      const sub = engine.events$.subscribe((e) => {
        if (e.type === 'node.token') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const running = engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    await started;
    await engine.shutdown({ mode: 'cancel' });
    expect((await running).status).toBe('cancelled');
    expect(await (await server.request(0)).closed).toEqual({ clientAborted: true });
    g.release();
  });

  it('unsubscribing from engine.stream aborts the request of the run in flight', async () => {
    const g = createGate();
    server.enqueue(held(g));
    const sub = engine.stream(streamingTopology('openai:gpt-4o-mini'), [{ q: 'x' }]).subscribe();
    const tok = engine.events$.subscribe((e) => {
      if (e.type === 'node.token') sub.unsubscribe();
    });
    expect(await (await server.request(0)).closed).toEqual({ clientAborted: true });
    tok.unsubscribe();
    g.release();
  });

  it('a completed run leaves no request open and none aborted', async () => {
    server.enqueue(openaiStream({ text: ['done'], usage: { prompt_tokens: 1, completion_tokens: 1 } }));
    const result = await engine.run(streamingTopology('openai:gpt-4o-mini'), { q: 'x' });
    expect(result.status).toBe('completed');
    const req = await server.request(0);
    expect(await req.closed).toEqual({ clientAborted: false });
    expect(req.responseEnded).toBe(true);
  });
});

describe('llm over HTTP: provider rate-limit headers and the shared limiter', () => {
  const limited = (): Engine => createEngine({
    models: createModels({
      providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'k' })],
      rateLimits: { 'openai:gpt-4o-mini': { rpm: 10_000 } },
    }),
    resilience: { retry: { maxAttempts: 1 } },
  });
  /** Whether the model's limiter grants a request now (false: it is paused). */
  const grantsNow = async (e: Engine): Promise<boolean> => {
    const limiter = e.models.resolve('openai:gpt-4o-mini')!.limiter!;
    const ctl = new AbortController();
    const granted = limiter.acquire(1, ctl.signal).then(() => true, () => false);
    const waited = flush().then(() => false);
    const r = await Promise.race([granted, waited]);
    ctl.abort();
    return r;
  };
  const oneCall = topology('one').llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'x' }).build();

  it('a 200 saying remaining-requests 0 pauses the limiter until the reset', async () => {
    const e = limited();
    server.enqueue(openaiStream({ text: ['ok'] }, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '30s' }));
    expect((await e.run(oneCall, undefined)).status).toBe('completed');
    expect(await grantsNow(e)).toBe(false);
    await e.shutdown();
  });

  it('a 200 with budget left does not pause it', async () => {
    const e = limited();
    server.enqueue(openaiStream({ text: ['ok'] }));
    expect((await e.run(oneCall, undefined)).status).toBe('completed');
    expect(await grantsNow(e)).toBe(true);
    await e.shutdown();
  });

  it('a 429 with retry-after pauses the shared limiter', async () => {
    const e = limited();
    server.enqueue(openai429(30));
    const r = await e.run(oneCall, undefined);
    expect(providerCause(r.error)).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 30_000 });
    expect(await grantsNow(e)).toBe(false); // today: true
    await e.shutdown();
  });
});

describe('llm over HTTP: structured output', () => {
  const Answer = z.object({ answer: z.string(), confidence: z.number().min(0).max(1) });
  const structuredTopology = (model = 'openai:gpt-4o-mini') => topology('structured')
    .llm('a', { model, prompt: () => 'Reply in JSON', schema: Answer })
    .build({ output: 'a' });

  it('parses the JSON streamed in fragments and asks OpenAI for a JSON object', async () => {
    server.enqueue(openaiStream({ text: ['{"ans', 'wer": "bounded', ' queues",', ' "confidence": 0.', '9}'], usage: { prompt_tokens: 10, completion_tokens: 12 } }));
    const result = await engine.run(structuredTopology(), undefined);
    expect(result.status, String(result.error)).toBe('completed');
    expect(result.output!.data).toEqual({ answer: 'bounded queues', confidence: 0.9 });
    expect((await server.request(0)).body.response_format).toEqual({ type: 'json_object' });
  });

  it('accepts JSON in a ```json fence (Anthropic)', async () => {
    server.enqueue(anthropicStream({ blocks: [{ type: 'text', deltas: ['```json\n{"answer":', ' "yes", "confidence": 1}', '\n```'] }] }));
    const result = await engine.run(structuredTopology('anthropic:claude-sonnet-4-5'), undefined);
    expect(result.status, String(result.error)).toBe('completed');
    expect(result.output!.data).toEqual({ answer: 'yes', confidence: 1 });
  });

  it('text that is not JSON fails the run with a clear LLM_OUTPUT_INVALID', async () => {
    server.setFallback(openaiStream({ text: ['Sure! The answer', ' is: bounded queues.'] }));
    const result = await engine.run(structuredTopology(), undefined);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'LLM_OUTPUT_INVALID', nodeId: 'a' });
    const cause = result.error!.cause;
    expect(isValidationError(cause)).toBe(true);
    expect((cause as Error).message).toContain('not valid JSON');
  });

  it('JSON that does not match the schema fails with LLM_OUTPUT_INVALID naming the field', async () => {
    server.setFallback(openaiStream({ text: ['{"answer": 42, "confidence": 0.5}'] }));
    const result = await engine.run(structuredTopology(), undefined);
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'LLM_OUTPUT_INVALID' });
    const cause = result.error!.cause;
    expect(isValidationError(cause)).toBe(true);
    if (isValidationError(cause)) expect(cause.issues.map((i) => i.path.join('.'))).toContain('data.answer');
  });
});

describe('llm over HTTP: two providers in one engine', () => {
  it('routes each node to its provider and API', async () => {
    server.setFallback(byApi(
      openaiStream({ text: ['from', ' openai'], usage: { prompt_tokens: 5, completion_tokens: 2 } }),
      anthropicStream({ blocks: [{ type: 'text', deltas: ['from', ' anthropic'] }] }),
    ));
    const t = topology('both')
      .llm('o', { model: 'openai:gpt-4o-mini', prompt: () => 'x' })
      .llm('an', { model: 'anthropic:claude-sonnet-4-5', prompt: () => 'y' })
      .build();
    const result = await engine.run(t, undefined);
    expect(result.status, String(result.error)).toBe('completed');
    expect(result.outputs.o!.text).toBe('from openai');
    expect(result.outputs.an!.text).toBe('from anthropic');
    expect(server.requests.map((r) => r.path).sort()).toEqual(['/v1/chat/completions', '/v1/messages']);
    expect(result.usage.calls).toBe(2);
  });
});

