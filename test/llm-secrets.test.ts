/**
 * Credentials and configuration errors of the HTTP providers, found by outside testers against
 * an OpenAI/Anthropic-compatible proxy: a key HTTP cannot carry is refused when the provider is
 * made (naming the field, never quoting the key); a request the HTTP client refuses is a
 * permanent error, not a retried network fault; no key reaches an error, an event or a result;
 * context-length errors are recognised whatever code or type a proxy puts beside them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, createModels, isProviderError, isValidationError, topology, type EngineEvent } from '../src/index.ts';
import { createAnthropicProvider, createOpenAIProvider } from '../src/providers/index.ts';
import { jsonError, startProviderServer, type ProviderServer } from './support/provider-server.ts';

const KEY = 'sk-test-5f2a9c81d0e4b7aa';
let server: ProviderServer;

beforeAll(async () => {
  server = await startProviderServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => server.reset());

const one = (model: string) => topology('secrets').llm('a', { model, prompt: () => 'hi' }).build({ output: 'a' });

function refused(make: () => unknown): { paths: string[]; text: string } {
  try {
    make();
  } catch (e) {
    expect(isValidationError(e)).toBe(true);
    const issues = (e as { issues: { path: (string | number)[] }[] }).issues;
    return { paths: issues.map((i) => i.path.join('.')), text: `${String(e)} ${JSON.stringify(e)}` };
  }
  throw new Error('expected the provider options to be refused');
}

describe('provider options are checked when the provider is made', () => {
  it('a key with a line break, a NUL or a space is refused naming options.apiKey; the key is not quoted', () => {
    for (const bad of [`${KEY}\n`, `${KEY}\u0000`, `Bearer ${KEY}`]) {
      for (const make of [() => createOpenAIProvider({ apiKey: bad }), () => createAnthropicProvider({ apiKey: bad })]) {
        const { paths, text } = refused(make);
        expect(paths).toEqual(['options.apiKey']);
        expect(text).not.toContain(KEY);
      }
    }
  });

  it('header values with CR/LF and bad header names, unknown options and a bad base URL are refused by field', () => {
    expect(refused(() => createOpenAIProvider({ headers: { 'x-trace': 'a\r\nb' } })).paths).toEqual(['options.headers.x-trace']);
    expect(refused(() => createOpenAIProvider({ headers: { 'bad header': 'v' } })).paths).toEqual(['options.headers.bad header']);
    expect(refused(() => createAnthropicProvider({ baseUrl: 'ftp://x' })).paths).toEqual(['options.baseUrl']);
    expect(refused(() => createAnthropicProvider({ defaultMaxTokens: 0 })).paths).toEqual(['options.defaultMaxTokens']);
    expect(refused(() => createOpenAIProvider({ apikey: KEY } as never)).paths).toEqual(['options']);
  });
});

describe('no credential in errors, events or results', () => {
  it('a server echoing the key in its 401 body: the error, the events and the result carry [redacted]', async () => {
    server.enqueue(jsonError(401, { error: { message: `Incorrect API key provided: ${KEY}. Find yours at https://platform.openai.com`, type: 'invalid_request_error', code: 'invalid_api_key' } }));
    const engine = createEngine({ models: createModels({ providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: KEY })] }) });
    const events: EngineEvent[] = [];
    engine.events$.subscribe((e) => events.push(e));
    const r = await engine.run(one('openai:gpt-4o-mini'), undefined);
    expect(r.status).toBe('failed');
    const everything = JSON.stringify({ events, result: r, error: String(r.error), cause: String((r.error as { cause?: unknown }).cause) });
    expect(everything).not.toContain(KEY);
    expect(everything).toContain('Incorrect API key provided: [redacted]');
    await engine.shutdown();
  });

  it('a request the HTTP client refuses to send (an invalid header value) is REQUEST_INVALID, not retried, and scrubbed', async () => {
    let calls = 0;
    const refusing: typeof fetch = async (_url, init) => {
      calls++;
      const auth = new Headers(init?.headers).get('authorization');
      throw new TypeError(`Headers.append: "${auth}\n" is an invalid header value.`);
    };
    const engine = createEngine({
      models: createModels({ providers: [createOpenAIProvider({ baseUrl: 'http://127.0.0.1:9/v1', apiKey: KEY, fetch: refusing })] }),
      resilience: { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 } },
    });
    const events: EngineEvent[] = [];
    engine.events$.subscribe((e) => events.push(e));
    const r = await engine.run(one('openai:gpt-4o-mini'), undefined);
    expect(r.status).toBe('failed');
    expect(calls).toBe(1);
    expect(events.filter((e) => e.type === 'node.retry')).toEqual([]);
    let cause: unknown = r.error;
    while (cause !== undefined && !isProviderError(cause)) cause = (cause as { cause?: unknown }).cause;
    expect(cause).toMatchObject({ code: 'REQUEST_INVALID', retriable: false });
    expect(JSON.stringify({ events, error: String(r.error), cause: String(cause), inner: String((cause as { cause?: unknown }).cause) })).not.toContain(KEY);
    await engine.shutdown();
  });
});

describe('context-length errors whatever the code or type', () => {
  const cases: [string, object][] = [
    ['a LiteLLM-style body: type invalid_request_error, code "400"', { error: { message: "litellm.ContextWindowExceededError: This model's maximum context length is 8192 tokens", type: 'invalid_request_error', code: '400', param: null } }],
    ["Anthropic's prompt is too long", { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210345 tokens > 200000 maximum' } }],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      server.enqueue(jsonError(400, body));
      const engine = createEngine({ models: createModels({ providers: [createOpenAIProvider({ baseUrl: `${server.url}/v1`, apiKey: KEY })] }) });
      const r = await engine.run(one('openai:gpt-4o-mini'), undefined);
      let cause: unknown = r.error;
      while (cause !== undefined && !isProviderError(cause)) cause = (cause as { cause?: unknown }).cause;
      expect(cause).toMatchObject({ code: 'CONTEXT_LENGTH_EXCEEDED', retriable: false });
      await engine.shutdown();
    });
  }
});
