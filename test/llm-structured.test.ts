/**
 * Structured output and refusals over real HTTP, found by outside testers against a proxy:
 * OpenAI's JSON mode needs the word "JSON" in a message (the API answers 400 otherwise),
 * Anthropic has no JSON mode (the request must say so), and OpenAI's `delta.refusal` is an answer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, createModels, isValidationError, topology, type Engine } from '../src/index.ts';
import { createAnthropicProvider, createOpenAIProvider } from '../src/providers/index.ts';
import { JSON_INSTRUCTION } from '../src/providers/json-mode.ts';
import { anthropicStream, openaiChunk, openaiStream, sse, sseScript, startProviderServer, type ProviderServer } from './support/provider-server.ts';

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
    models: createModels({ providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: 'k' }), createAnthropicProvider({ baseUrl: server.url, apiKey: 'k' })] }),
    resilience: { retry: { maxAttempts: 1 } },
  });
  return () => engine.shutdown({ mode: 'cancel', timeoutMs: 1000 });
});

const Colour = z.object({ colour: z.string() });
const asking = (model: string, prompt: string) => topology('json').llm('a', { model, prompt: () => prompt, schema: Colour }).build({ output: 'a' });

describe('JSON requests say JSON', () => {
  it('OpenAI: a leading system instruction when no message mentions JSON, none when one does', async () => {
    server.setFallback(openaiStream({ text: ['{"colour":"red"}'] }));
    const r1 = await engine.run(asking('openai:gpt-4o-mini', 'Name a colour'), undefined);
    expect(r1.status, String(r1.error)).toBe('completed');
    expect((await server.request(0)).body).toMatchObject({ response_format: { type: 'json_object' }, messages: [{ role: 'system', content: JSON_INSTRUCTION }, { role: 'user', content: 'Name a colour' }] });
    await engine.run(asking('openai:gpt-4o-mini', 'Name a colour as JSON'), undefined);
    expect((await server.request(1)).body).toMatchObject({ messages: [{ role: 'user', content: 'Name a colour as JSON' }] });
  });

  it('Anthropic: the JSON request is no longer dropped: the system prompt carries the instruction', async () => {
    server.setFallback(anthropicStream({ blocks: [{ type: 'text', deltas: ['{"colour":', '"blue"}'] }] }));
    const r = await engine.run(asking('anthropic:claude-haiku-4-5', 'Name a colour'), undefined);
    expect(r.status, String(r.error)).toBe('completed');
    expect(r.output?.data).toEqual({ colour: 'blue' });
    expect((await server.request(0)).body).toMatchObject({ system: JSON_INSTRUCTION });
  });
});

describe('OpenAI refusals', () => {
  const spec = { id: 'chatcmpl-r', model: 'gpt-4o-mini' };
  const refusing = sseScript([
    sse(openaiChunk(spec, { delta: { role: 'assistant', content: null, refusal: '' }, finish_reason: null })),
    sse(openaiChunk(spec, { delta: { refusal: "I'm sorry, " }, finish_reason: null })),
    sse(openaiChunk(spec, { delta: { refusal: 'I cannot help with that.' }, finish_reason: null })),
    sse(openaiChunk(spec, { delta: {}, finish_reason: 'stop' })),
    'data: [DONE]\n\n',
  ]);

  it('a refusal is kept on the output with finish reason content_filter', async () => {
    server.enqueue(refusing);
    const t = topology('refuse').llm('a', { model: 'openai:gpt-4o-mini', prompt: () => 'something bad' }).build({ output: 'a' });
    const r = await engine.run(t, undefined);
    expect(r.status, String(r.error)).toBe('completed');
    expect(r.output).toMatchObject({ text: '', refusal: "I'm sorry, I cannot help with that.", finishReason: 'content_filter' });
  });

  it('with a schema, a refusal fails the node with LLM_REFUSED naming it (not an unparseable-JSON error)', async () => {
    server.enqueue(refusing);
    const r = await engine.run(asking('openai:gpt-4o-mini', 'JSON please'), undefined);
    expect(r.status).toBe('failed');
    let e: unknown = r.error;
    while (e !== undefined && !isValidationError(e)) e = (e as { cause?: unknown }).cause;
    expect(e).toMatchObject({ code: 'LLM_REFUSED', issues: [{ path: ['refusal'], message: "I'm sorry, I cannot help with that." }] });
  });
});
