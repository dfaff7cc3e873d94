/**
 * Usage of calls that did not run to their end, over real HTTP against byte-exact provider
 * streams: a provider bills what it streamed, so a stopped, cancelled, timed-out or cut call
 * counts one call with the tokens it sent (estimated with the tokenizer and marked so when the
 * provider's own count never arrived), and Anthropic's `message_start` snapshot is not final.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, createModels, topology, type Engine } from '../src/index.ts';
import { createAnthropicProvider, createOpenAIProvider } from '../src/providers/index.ts';
import {
  anthropicEvents, createGate, destroy, gate, jsonError, openaiEvents, sseScript, startProviderServer, type ProviderServer,
} from './support/provider-server.ts';

let server: ProviderServer;
let engine: Engine;

beforeAll(async () => {
  server = await startProviderServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  server.reset();
  engine = createEngine({
    models: createModels({
      providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'k' }), createAnthropicProvider({ baseUrl: server.url, apiKey: 'k' })],
    }),
    resilience: { retry: { maxAttempts: 1 } },
  });
  return async () => {
    await engine.shutdown({ mode: 'cancel', timeoutMs: 1000 });
  };
});

const WORDS = Array.from({ length: 40 }, (_, k) => ` word${k}`);

/** `a` streams into `c`, which stops `a` after `after` tokens. */
function stopping(model: string, after: number) {
  return topology('stop-usage')
    .llm('a', { model, prompt: () => 'count to forty', maxTokens: 100 })
    .map('c', {
      streamFrom: 'a',
      run: (ctx) => new Promise<number>((resolve, reject) => {
        let n = 0;
        ctx.tokens('a').subscribe({
          next: (chunk) => {
            if (chunk.kind === 'token' && ++n === after) {
              ctx.stop('a', 'enough');
              resolve(n);
            }
          },
          error: reject,
        });
      }),
    })
    .build({ output: 'c' });
}

const plain = (model: string) => topology('cancel-usage', { input: z.object({ q: z.string() }) })
  .llm('a', { model, prompt: ({ input }) => input.q, maxTokens: 100 })
  .build({ output: 'a' });

describe('usage of calls that did not finish', () => {
  it("Anthropic, stopped by a consumer: message_start's snapshot (output_tokens 1) is not final; the streamed tokens count, estimated", async () => {
    const g = createGate();
    const ev = anthropicEvents({ blocks: [{ type: 'text', deltas: WORDS }], startUsage: { input_tokens: 20, output_tokens: 1 } });
    // message_start, ping, content_block_start, 30 deltas, then hold
    server.enqueue(sseScript([...ev.slice(0, 33), gate(g), ...ev.slice(33)]));
    const r = await engine.run(stopping('anthropic:claude-sonnet-4-5', 30), undefined);
    g.release();
    expect(r.status, String(r.error)).toBe('completed');
    const a = r.outputs.a!;
    expect(a.finishReason).toBe('stopped');
    expect(a.usage.estimated).toBe(true);
    expect(a.usage.inputTokens).toBe(20); // the provider's own input count is kept
    expect(a.usage.outputTokens).toBe(engine.models.countTokens(a.text));
    expect(a.usage.outputTokens).toBeGreaterThanOrEqual(30);
    expect(r.usage).toMatchObject({ calls: 1, outputTokens: a.usage.outputTokens });
    expect(r.usage.costUsd).toBeGreaterThan(0);
  });

  it('OpenAI, run cancelled mid-stream: one call with the tokens streamed so far, in the run and the engine totals', async () => {
    const g = createGate();
    const ev = openaiEvents({ text: WORDS, usage: { prompt_tokens: 9, completion_tokens: 40 } });
    server.enqueue(sseScript([...ev.slice(0, 21), gate(g), ...ev.slice(21)]));
    const ctl = new AbortController();
    const sub = engine.events$.subscribe((e) => {
      if (e.type === 'node.token' && e.index === 19) ctl.abort(new Error('user pressed stop'));
    });
    const r = await engine.run(plain('openai:gpt-4o-mini'), { q: 'count' }, { signal: ctl.signal, tenant: 'acme' });
    sub.unsubscribe();
    g.release();
    expect(r.status).toBe('cancelled');
    expect(r.usage.calls).toBe(1);
    expect(r.usage.outputTokens).toBeGreaterThanOrEqual(20);
    expect(r.usage.inputTokens).toBeGreaterThan(0);
    expect(engine.usage('acme')).toMatchObject({ calls: 1, outputTokens: r.usage.outputTokens });
  });

  it('Anthropic, stream cut by the server: the failed call still counts what it streamed', async () => {
    const ev = anthropicEvents({ blocks: [{ type: 'text', deltas: WORDS }], startUsage: { input_tokens: 12 } });
    server.enqueue(sseScript([...ev.slice(0, 13), destroy()]));
    const r = await engine.run(plain('anthropic:claude-sonnet-4-5'), { q: 'count' });
    expect(r.status).toBe('failed');
    expect(r.usage).toMatchObject({ calls: 1, inputTokens: 12 });
    expect(r.usage.outputTokens).toBeGreaterThanOrEqual(10);
  });

  it('a call refused before any response (HTTP 400) counts nothing: nothing was generated', async () => {
    server.enqueue(jsonError(400, { error: { message: 'bad', type: 'invalid_request_error', code: null, param: null } }));
    const r = await engine.run(plain('openai:gpt-4o-mini'), { q: 'count' });
    expect(r.status).toBe('failed');
    expect(r.usage.calls).toBe(0);
  });
});
