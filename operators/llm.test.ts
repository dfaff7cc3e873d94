/**
 * The llm operator, driven by the simulated provider (and small hand-written
 * providers where a failure or a missing usage event must be scripted).
 *
 * Nothing here waits on wall-clock time: timed simulated models run under
 * vi.useFakeTimers(), everything else is synchronous or resolved by hand.
 */
import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { NEVER, EMPTY, Observable, take } from 'rxjs';
import { z } from 'zod';
import {
  createEngine, estimateTokens, createModels, createSimProvider, defineTool, isNodeError, isTopologyError,
  isValidationError, llm, ProviderError, topology,
  type ChatMessage, type CompletionRequest, type Engine, type EngineEvent, type LlmOutput, type Provider, type ProviderEvent,
  type RunResult, type SimProviderOptions, type TokenEvent,
} from '../src/index.ts';
import { simTokens } from '../src/providers/sim.ts';
import { countMessageTokens } from '../src/providers/tokens.ts';
import { collect, flush, hops, recordEvents, sortedByJson } from '../test/support/helpers.ts';


afterEach(() => {
  vi.useRealTimers();
});

// ---------------------------------------------------------------- helpers

/** An engine whose only provider is a simulated one. */
function simEngine(options: SimProviderOptions = {}, extra: { prices?: Record<string, { input: number; output: number }> } = {}): Engine {
  return createEngine({ models: createModels({ providers: [createSimProvider(options)], ...(extra.prices ? { prices: extra.prices } : {}) }) });
}

/** The content of the last user message of a request. */
function lastUser(req: CompletionRequest): string {
  return [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
}

/** Token events of the bus, recorded until stop(). */
function recordTokens(engine: Engine): { readonly tokens: TokenEvent[]; stop(): void } {
  const tokens: TokenEvent[] = [];
  const sub = engine.events$.subscribe((e: EngineEvent) => {
    if (e.type === 'node.token') tokens.push(e);
  });
  return { tokens, stop: () => sub.unsubscribe() };
}

/**
 * The behaviour a scripted provider runs for a request whose prompt is the run's
 * number `n`: returns the answer text (sync or async), throws, or waits for abort.
 */
type Behaviour = (n: number, signal: AbortSignal | undefined) => string | Promise<string>;

/**
 * A provider named `script` that answers each request with `behaviour(n)`,
 * streamed as simulated tokens, with usage. A thrown or rejected behaviour
 * becomes a stream error (after the `response` event).
 */
function scriptedProvider(behaviour: Behaviour): Provider {
  return {
    name: 'script',
    stream: (req, signal) =>
      new Observable<ProviderEvent>((subscriber) => {
        subscriber.next({ type: 'response', status: 200, rateLimit: {} });
        const emit = (text: string): void => {
          const toks = simTokens(text);
          for (const t of toks) subscriber.next({ type: 'text', text: t });
          subscriber.next({ type: 'finish', reason: 'stop' });
          subscriber.next({ type: 'usage', usage: { inputTokens: 3, outputTokens: toks.length, cachedTokens: 0, reasoningTokens: 0 } });
          subscriber.complete();
        };
        let out: string | Promise<string>;
        try {
          out = behaviour(Number(lastUser(req)), signal);
        } catch (e) {
          subscriber.error(e);
          return;
        }
        if (typeof out === 'string') emit(out);
        else out.then(emit, (e: unknown) => subscriber.error(e));
      }),
  };
}

function scriptEngine(behaviour: Behaviour): Engine {
  return createEngine({ models: createModels({ providers: [scriptedProvider(behaviour)] }) });
}

const numberLlm = topology('llm-contract', { input: z.number() })
  .llm('ask', { model: 'script:any', prompt: ({ input }) => String(input) })
  .build({ output: 'ask' });

function expectNodeFailure(r: RunResult<unknown, unknown>, nodeId: string, message: string): void {
  expect(r.status).toBe('failed');
  expect(isNodeError(r.error)).toBe(true);
  if (isNodeError(r.error)) expect(r.error.nodeId).toBe(nodeId);
  expect(r.error?.message).toContain(message);
}

// ---------------------------------------------------------------- contract

describe('llm operator: contract', () => {
  it('llm() builds an llm NodeDef that declares its model', () => {
    const def = llm('a', { model: 'sim:fast', prompt: () => 'hi' });
    expect(def.kind).toBe('llm');
    expect(def.models).toEqual(['sim:fast']);
    expect(def.after).toEqual([]);
  });

  it('never: a source that never emits makes no model call and can be unsubscribed', async () => {
    let calls = 0;
    const engine = scriptEngine((n) => { calls++; return String(n * 10); });
    const results: unknown[] = [];
    let completed = false;
    const sub = engine.stream(numberLlm, NEVER).subscribe({ next: (r) => results.push(r), complete: () => { completed = true; } });
    await flush();
    expect(results).toEqual([]);
    expect(completed).toBe(false);
    expect(calls).toBe(0);
    sub.unsubscribe();
    expect(sub.closed).toBe(true);
    expect(engine.inFlight).toBe(0);
  });

  it('empty: an empty source completes with no results and no model call', async () => {
    let calls = 0;
    const engine = scriptEngine((n) => { calls++; return String(n * 10); });
    expect(await collect(engine.stream(numberLlm, []))).toEqual([]);
    expect(await collect(engine.stream(numberLlm, EMPTY))).toEqual([]);
    expect(await collect(engine.stream(numberLlm, (function* () {})()))).toEqual([]);
    expect(calls).toBe(0);
    expect(engine.usage().calls).toBe(0);
  });

  it('single: one run completes with the model text (run and stream)', async () => {
    const engine = scriptEngine((n) => `answer ${n * 10}`);
    const r = await engine.run(numberLlm, 3);
    expect(r.status).toBe('completed');
    expect(r.output?.text).toBe('answer 30');
    expect(r.output?.finishReason).toBe('stop');
    expect(r.output?.model).toBe('script:any');
    expect(r.output?.simulated).toBe(false);
    expect(r.output?.toolCalls).toEqual([]);
    expect(r.output?.data).toBeUndefined();
    const streamed = await collect(engine.stream(numberLlm, [4]));
    expect(streamed).toHaveLength(1);
    expect(streamed[0]!.status).toBe('completed');
    expect(streamed[0]!.output?.text).toBe('answer 40');
  });

  it('many: every run of a stream completes with its own answer (order-insensitive)', async () => {
    const engine = scriptEngine(async (n) => {
      await hops((n * 7) % 5); // answer out of input order
      return `answer ${n * 10}`;
    });
    const inputs = Array.from({ length: 20 }, (_, i) => i);
    const results = await collect(engine.stream(numberLlm, inputs, { maxInFlight: 4 }));
    expect(results).toHaveLength(inputs.length);
    expect(results.every((r) => r.status === 'completed')).toBe(true);
    expect(sortedByJson(results.map((r) => r.output?.text))).toEqual(sortedByJson(inputs.map((n) => `answer ${n * 10}`)));
    expect(new Set(results.map((r) => r.runId)).size).toBe(inputs.length);
    expect(engine.usage().calls).toBe(inputs.length);
  });

  it('error: a provider stream that errors fails its run with a NodeError naming the node; other runs complete', async () => {
    // not retriable, so the engine's retries (tested elsewhere) do not come into play
    const engine = scriptEngine(async (n) => {
      await hops(1);
      if (n === 2) throw new ProviderError('BAD_REQUEST', 'upstream refused', false, { provider: 'script', model: 'any', status: 400 });
      return `answer ${n * 10}`;
    });
    const results = await collect(engine.stream(numberLlm, [1, 2, 3]));
    expect(results).toHaveLength(3);
    const failed = results.filter((r) => r.status === 'failed');
    expect(failed).toHaveLength(1);
    expectNodeFailure(failed[0]!, 'ask', 'upstream refused');
    expect(failed[0]!.error?.code).toBe('BAD_REQUEST');
    expect(failed[0]!.error?.retriable).toBe(false);
    expect(sortedByJson(results.filter((r) => r.status === 'completed').map((r) => r.output?.text))).toEqual(['answer 10', 'answer 30']);
    expectNodeFailure(await engine.run(numberLlm, 2), 'ask', 'upstream refused');
  });

  it('error mid-stream: tokens already streamed do not save the run', async () => {
    const provider: Provider = {
      name: 'script',
      stream: () => new Observable<ProviderEvent>((s) => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        s.next({ type: 'text', text: 'partial' });
        s.next({ type: 'text', text: ' answer' });
        s.error(new Error('stream cut'));
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const rec = recordTokens(engine);
    const r = await engine.run(numberLlm, 1);
    rec.stop();
    expectNodeFailure(r, 'ask', 'stream cut');
    expect(rec.tokens.map((t) => t.text)).toEqual(['partial', ' answer']);
    expect(r.outputs).toEqual({});
  });

  it('a prompt template that throws fails only its run, naming the node, and calls no model', async () => {
    let calls = 0;
    const engine = scriptEngine((n) => { calls++; return `answer ${n}`; });
    const t = topology('llm-bad-prompt', { input: z.number() })
      .llm('ask', {
        model: 'script:any',
        prompt: ({ input }) => {
          if (input === 2) throw new Error('template broke');
          return String(input);
        },
      })
      .build({ output: 'ask' });
    const results = await collect(engine.stream(t, [1, 2, 3]));
    expect(results.map((r) => r.status).sort()).toEqual(['completed', 'completed', 'failed']);
    expectNodeFailure(results.find((r) => r.status === 'failed')!, 'ask', 'template broke');
    expect(calls).toBe(2);
  });

  it('early unsubscribe: take(1) cancels the remaining runs, whose provider requests see their signal abort', async () => {
    const started = new Set<number>();
    const aborted = new Set<number>();
    const provider: Provider = {
      name: 'script',
      stream: (req, signal) => new Observable<ProviderEvent>((s) => {
        const n = Number(lastUser(req));
        started.add(n);
        s.next({ type: 'response', status: 200, rateLimit: {} });
        if (n === 0) {
          void hops(2).then(() => {
            s.next({ type: 'text', text: 'zero' });
            s.next({ type: 'finish', reason: 'stop' });
            s.complete();
          });
          return undefined;
        }
        const onAbort = (): void => {
          aborted.add(n);
          s.error(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        return () => signal?.removeEventListener('abort', onAbort);
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const rec = recordEvents(engine);
    const results = await collect(engine.stream(numberLlm, [0, 1, 2, 3, 4], { maxInFlight: 5 }).pipe(take(1)));
    await flush();
    rec.stop();
    expect(results).toHaveLength(1);
    expect(results[0]!.status).toBe('completed');
    expect(results[0]!.output?.text).toBe('zero');
    expect([...started].sort()).toEqual([0, 1, 2, 3, 4]);
    expect([...aborted].sort()).toEqual([1, 2, 3, 4]);
    expect(engine.inFlight).toBe(0);
    expect(rec.events.filter((e) => e.type === 'run.cancelled')).toHaveLength(4);
    expect(rec.events.filter((e) => e.type === 'run.completed')).toHaveLength(1);
  });

  it('a cancelled run with a timed sim model stops streaming tokens', async () => {
    vi.useFakeTimers();
    const engine = simEngine({ models: { tick: { ttftMs: 10, tokenMs: 10 } } });
    const t = topology('llm-cancel').llm('gen', { model: 'sim:tick', maxTokens: 50, prompt: () => 'go' }).build({ output: 'gen' });
    const rec = recordTokens(engine);
    const ac = new AbortController();
    const p = engine.run(t, undefined, { signal: ac.signal });
    await vi.advanceTimersByTimeAsync(10 + 10 * 4); // 5 tokens
    expect(rec.tokens).toHaveLength(5);
    ac.abort();
    const r = await p;
    expect(r.status).toBe('cancelled');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(rec.tokens).toHaveLength(5);
    expect(vi.getTimerCount()).toBe(0);
    rec.stop();
  });
});

// ---------------------------------------------------------------- simulated provider

describe('llm operator: simulated provider', () => {
  const seeded = (seed: number | undefined, prompt = 'Tell me about streams.') => {
    const spec = { model: 'sim:fast', maxTokens: 30, prompt: () => prompt };
    return topology('llm-seeded').llm('gen', seed === undefined ? spec : { ...spec, seed }).build({ output: 'gen' });
  };

  it('same seed and prompt give the same text, across engines; another seed gives another text', async () => {
    const a = await simEngine().run(seeded(7), undefined);
    const b = await simEngine().run(seeded(7), undefined);
    const c = await simEngine().run(seeded(8), undefined);
    expect(a.status).toBe('completed');
    expect(a.output!.text.length).toBeGreaterThan(0);
    expect(b.output!.text).toBe(a.output!.text);
    expect(c.output!.text).not.toBe(a.output!.text);
    // another prompt with the same seed is another answer too
    const d = await simEngine().run(seeded(7, 'Something else entirely, please.'), undefined);
    expect(d.output!.text).not.toBe(a.output!.text);
  });

  it("the provider's seed applies when the request has none", async () => {
    const a = await simEngine({ seed: 1 }).run(seeded(undefined), undefined);
    const b = await simEngine({ seed: 1 }).run(seeded(undefined), undefined);
    const c = await simEngine({ seed: 2 }).run(seeded(undefined), undefined);
    expect(b.output!.text).toBe(a.output!.text);
    expect(c.output!.text).not.toBe(a.output!.text);
    // an explicit request seed equal to the provider default (42) matches an unseeded request on the default provider
    const d = await simEngine().run(seeded(undefined), undefined);
    const e = await simEngine().run(seeded(42), undefined);
    expect(e.output!.text).toBe(d.output!.text);
  });

  it('reports usage: outputTokens is the number of tokens streamed; the output says simulated and names the model', async () => {
    const engine = simEngine();
    const rec = recordTokens(engine);
    const t = topology('llm-usage')
      .llm('gen', { model: 'sim:fast', maxTokens: 25, system: 'Be brief.', prompt: () => 'What is backpressure?' })
      .build({ output: 'gen' });
    const r = await engine.run(t, undefined);
    rec.stop();
    expect(r.status).toBe('completed');
    const out = r.output!;
    expect(rec.tokens).toHaveLength(25);
    expect(out.usage.outputTokens).toBe(rec.tokens.length);
    expect(out.usage.outputTokens).toBe(simTokens(out.text).length);
    expect(out.usage.estimated).toBe(false);
    expect(out.usage.inputTokens).toBe(Math.ceil((('Be brief.'.length + 4) + ('What is backpressure?'.length + 4)) / 4));
    expect(out.text).toBe(rec.tokens.map((x) => x.text).join(''));
    expect(out.simulated).toBe(true);
    expect(out.model).toBe('sim:fast');
    expect(out.finishReason).toBe('stop');
    expect(out.costUsd).toBe(0); // no price for sim models
  });

  it('without maxTokens the sim generates its default token count (48, or the provider option)', async () => {
    const t = topology('llm-default-tokens').llm('gen', { model: 'sim:fast', prompt: () => 'hi' }).build({ output: 'gen' });
    expect((await simEngine().run(t, undefined)).output!.usage.outputTokens).toBe(48);
    expect((await simEngine({ defaultTokens: 5 }).run(t, undefined)).output!.usage.outputTokens).toBe(5);
  });

  it("alias 'default' resolves to 'sim:default' (timed: virtual time)", async () => {
    vi.useFakeTimers();
    const engine = simEngine();
    expect(engine.models.target('default')).toBe('sim:default');
    const t = topology('llm-alias').llm('gen', { model: 'default', maxTokens: 10, prompt: () => 'hello there' }).build({ output: 'gen' });
    let done = false;
    const p = engine.run(t, undefined).then((r) => { done = true; return r; });
    await vi.advanceTimersByTimeAsync(249);
    expect(done).toBe(false); // ttft of sim:default is 250 ms
    await vi.advanceTimersByTimeAsync(1 + 12 * 10);
    const r = await p;
    expect(r.status).toBe('completed');
    expect(r.output!.model).toBe('sim:default');
    expect(r.output!.simulated).toBe(true);
    expect(r.output!.usage.outputTokens).toBe(10);
  });

  it('a custom alias resolves to what the deployment says', async () => {
    const engine = createEngine({ models: createModels({ aliases: { cheap: 'sim:fast' } }) });
    const t = topology('llm-alias-2').llm('gen', { model: 'cheap', maxTokens: 3, prompt: () => 'x' }).build({ output: 'gen' });
    const r = await engine.run(t, undefined);
    expect(r.output!.model).toBe('sim:fast');
  });

  it('the request carries system, prompt messages, temperature, stop, seed and maxTokens', async () => {
    const seen: CompletionRequest[] = [];
    const engine = simEngine({ respond: (req) => { seen.push(req); return 'ok'; } });
    const messages: ChatMessage[] = [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'reply' }, { role: 'user', content: 'second' }];
    const t = topology('llm-request')
      .llm('gen', { model: 'sim:fast', system: 'sys', temperature: 0.2, stop: ['END'], seed: 3, maxTokens: 9, prompt: () => messages })
      .build({ output: 'gen' });
    const r = await engine.run(t, undefined);
    expect(r.output!.text).toBe('ok');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({
      model: 'fast', temperature: 0.2, stop: ['END'], seed: 3, maxTokens: 9,
      messages: [{ role: 'system', content: 'sys' }, ...messages],
    });
  });
});

// ---------------------------------------------------------------- structured output

describe('llm operator: structured output', () => {
  const Answer = z.object({ answer: z.string(), score: z.number(), tags: z.array(z.string()) });
  const structured = (text: string) => {
    const seen: CompletionRequest[] = [];
    const engine = simEngine({ respond: (req) => { seen.push(req); return text; } });
    const t = topology('llm-structured')
      .llm('judge', { model: 'sim:fast', schema: Answer, prompt: () => 'Judge it.' })
      .build({ output: 'judge' });
    return { run: () => engine.run(t, undefined), seen };
  };

  it('valid JSON for the schema: data is parsed and typed; the request asks for JSON', async () => {
    const value = { answer: 'yes', score: 0.9, tags: ['a', 'b'] };
    const s = structured(JSON.stringify(value, null, 2));
    const r = await s.run();
    expect(r.status).toBe('completed');
    if (r.status !== 'completed') return;
    expectTypeOf(r.output.data).toEqualTypeOf<{ answer: string; score: number; tags: string[] }>();
    expect(r.output.data).toEqual(value);
    expect(r.output.text).toBe(JSON.stringify(value, null, 2));
    expect(s.seen[0]!.json).toBe(true);
  });

  it('valid JSON inside a ```json fence is parsed too', async () => {
    const value = { answer: 'fenced', score: 1, tags: [] };
    const r = await structured('```json\n' + JSON.stringify(value, null, 2) + '\n```').run();
    expect(r.status).toBe('completed');
    expect(r.output?.data).toEqual(value);
    const bare = await structured('```\n' + JSON.stringify(value) + '\n```').run();
    expect(bare.output?.data).toEqual(value);
  });

  it('invalid JSON fails the run with LLM_OUTPUT_INVALID naming the text', async () => {
    const r = await structured('{ "answer": "yes", score: }').run();
    expectNodeFailure(r, 'judge', 'not valid JSON');
    expect(r.error?.code).toBe('LLM_OUTPUT_INVALID');
    const cause = r.error?.cause;
    expect(isValidationError(cause)).toBe(true);
    if (isValidationError(cause)) expect(cause.issues[0]!.path).toEqual(['text']);
  });

  it('JSON that does not match the schema fails with LLM_OUTPUT_INVALID and issues naming each path', async () => {
    const r = await structured(JSON.stringify({ answer: 'yes', score: 'high', tags: ['ok', 3] })).run();
    expectNodeFailure(r, 'judge', 'does not match the schema');
    expect(r.error?.code).toBe('LLM_OUTPUT_INVALID');
    const cause = r.error?.cause;
    expect(isValidationError(cause)).toBe(true);
    if (isValidationError(cause)) {
      expect(sortedByJson(cause.issues.map((i) => i.path))).toEqual(sortedByJson([['data', 'score'], ['data', 'tags', 1]]));
    }
    expect(r.error?.message).toContain('data.score');
  });

  it('usage is still accounted when the structured output is invalid', async () => {
    const engine = simEngine({ respond: () => 'not json at all' });
    const t = topology('llm-structured-acct')
      .llm('judge', { model: 'sim:fast', schema: Answer, prompt: () => 'Judge it.' })
      .build({ output: 'judge' });
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('failed');
    expect(r.usage.calls).toBe(1);
    expect(r.usage.outputTokens).toBe(4);
  });
});

// ---------------------------------------------------------------- tool calls

describe('llm operator: tool calls', () => {
  const search = defineTool({
    name: 'search',
    description: 'Search the corpus',
    input: z.object({ query: z.string(), topK: z.number().int() }),
    run: ({ query }) => [query],
  });

  it('tool calls come back as data with parsed arguments; the request describes the tools', async () => {
    const seen: CompletionRequest[] = [];
    const engine = simEngine({
      respond: (req) => {
        seen.push(req);
        return {
          text: 'Let me look.',
          toolCalls: [
            { id: 'call_1', name: 'search', arguments: '{"query":"rxjs","topK":3}' },
            { id: 'call_2', name: 'search', arguments: '' },
            { id: 'call_3', name: 'search', arguments: '{not json' },
          ],
        };
      },
    });
    const t = topology('llm-tools')
      .llm('agent', { model: 'sim:fast', tools: [search], prompt: () => 'Find things.' })
      .build({ output: 'agent' });
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('completed');
    const out = r.output!;
    expect(out.finishReason).toBe('tool_calls');
    expect(out.text).toBe('Let me look.');
    expect(out.toolCalls).toEqual([
      { id: 'call_1', name: 'search', arguments: { query: 'rxjs', topK: 3 }, raw: '{"query":"rxjs","topK":3}' },
      { id: 'call_2', name: 'search', arguments: {}, raw: '' },
      { id: 'call_3', name: 'search', arguments: '{not json', raw: '{not json' },
    ]);
    const tools = seen[0]!.tools!;
    expect(tools).toHaveLength(1);
    expect(tools[0]!.name).toBe('search');
    expect(tools[0]!.description).toBe('Search the corpus');
    expect(tools[0]!.parameters).toMatchObject({ type: 'object', properties: { query: { type: 'string' }, topK: { type: 'integer' } } });
  });

  it('tool call fragments streamed by a provider are joined by index', async () => {
    const provider: Provider = {
      name: 'frag',
      stream: () => new Observable<ProviderEvent>((s) => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        s.next({ type: 'tool_call', index: 0, id: 'c0', name: 'search', arguments: '{"query":' });
        s.next({ type: 'tool_call', index: 1, id: 'c1', name: 'other', arguments: '{}' });
        s.next({ type: 'tool_call', index: 0, arguments: '"a","topK":1}' });
        s.next({ type: 'finish', reason: 'tool_calls' });
        s.next({ type: 'usage', usage: { inputTokens: 1, outputTokens: 1, cachedTokens: 0, reasoningTokens: 0 } });
        s.complete();
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const t = topology('llm-frag').llm('agent', { model: 'frag:x', prompt: () => 'go' }).build({ output: 'agent' });
    const r = await engine.run(t, undefined);
    expect(r.output!.toolCalls).toEqual([
      { id: 'c0', name: 'search', arguments: { query: 'a', topK: 1 }, raw: '{"query":"a","topK":1}' },
      { id: 'c1', name: 'other', arguments: {}, raw: '{}' },
    ]);
  });
});

// ---------------------------------------------------------------- model references

describe('llm operator: model references', () => {
  it('an unknown model reference is a TopologyError at compile naming nodes.N.model.0', async () => {
    const t = topology('llm-unknown')
      .map('first', { run: () => 1 })
      .llm('gen', { after: ['first'], model: 'nope:gpt', prompt: () => 'x' })
      .llm('gen2', { model: 'malformed', prompt: () => 'x' })
      .build();
    const engine = simEngine();
    let err: unknown;
    try {
      engine.compile(t);
    } catch (e) {
      err = e;
    }
    expect(isTopologyError(err)).toBe(true);
    if (isTopologyError(err)) {
      expect(err.issues.map((i) => i.path)).toEqual([['nodes', 1, 'model', 0], ['nodes', 2, 'model', 0]]);
      expect(err.issues[0]!.message).toContain("unknown model 'nope:gpt'");
      expect(err.message).toContain('nodes.1.model.0');
    }
    await expect(engine.run(t, undefined)).rejects.toSatisfy(isTopologyError);
  });
});

// ---------------------------------------------------------------- accounting

describe('llm operator: accounting', () => {
  const two = topology('llm-two', { input: z.string() })
    .llm('a', { model: 'sim:fast', maxTokens: 10, prompt: ({ input }) => `A: ${input}` })
    .llm('b', { after: ['a'], model: 'sim:fast', maxTokens: 20, prompt: ({ input, deps }) => `B: ${input} ${deps.a.text}` })
    .map('plain', { after: ['b'], run: ({ deps }) => deps.b.text.length })
    .build({ output: 'b' });

  it('result.usage totals every call and splits it by node', async () => {
    const engine = simEngine();
    const r = await engine.run(two, 'q');
    expect(r.status).toBe('completed');
    const a = r.outputs.a!.usage;
    const b = r.outputs.b!.usage;
    expect(r.usage).toMatchObject({
      inputTokens: a.inputTokens + b.inputTokens, outputTokens: 30, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 2,
    });
    expect(Object.keys(r.usage.byNode).sort()).toEqual(['a', 'b']);
    expect(r.usage.byNode.a).toEqual({ inputTokens: a.inputTokens, outputTokens: 10, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 1 });
    expect(r.usage.byNode.b).toEqual({ inputTokens: b.inputTokens, outputTokens: 20, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 1 });
    // the run.completed event carries the same totals
    expect(r.events.at(-1)).toMatchObject({ type: 'run.completed', usage: { outputTokens: 30, calls: 2 } });
  });

  it('cost follows the price table (USD per million tokens)', async () => {
    const engine = simEngine({}, { prices: { 'sim:fast': { input: 1, output: 2 } } });
    const r = await engine.run(two, 'q');
    const a = r.outputs.a!;
    const b = r.outputs.b!;
    expect(a.costUsd).toBeCloseTo((a.usage.inputTokens * 1 + 10 * 2) / 1e6, 15);
    expect(b.costUsd).toBeCloseTo((b.usage.inputTokens * 1 + 20 * 2) / 1e6, 15);
    expect(r.usage.costUsd).toBeCloseTo(a.costUsd + b.costUsd, 15);
    expect(r.usage.byNode.a!.costUsd).toBeCloseTo(a.costUsd, 15);
    expect(engine.models.cost('sim:fast', { inputTokens: 1_000_000, outputTokens: 1_000_000, cachedTokens: 0, reasoningTokens: 0 })).toBe(3);
  });

  it('engine.usage(tenant) totals the runs of each tenant', async () => {
    const engine = simEngine({}, { prices: { 'sim:fast': { input: 1, output: 2 } } });
    const acme = await Promise.all([engine.run(two, 'x', { tenant: 'acme' }), engine.run(two, 'yy', { tenant: 'acme' }), engine.run(two, 'zzz', { tenant: 'acme' })]);
    const other = await engine.run(two, 'w', { tenant: 'other' });
    const anon = await engine.run(two, 'v');
    const sum = (rs: readonly RunResult<unknown, unknown>[]) => ({
      inputTokens: rs.reduce((n, r) => n + r.usage.inputTokens, 0),
      outputTokens: rs.reduce((n, r) => n + r.usage.outputTokens, 0),
      calls: rs.reduce((n, r) => n + r.usage.calls, 0),
      costUsd: rs.reduce((n, r) => n + r.usage.costUsd, 0),
    });
    const check = (got: { inputTokens: number; outputTokens: number; calls: number; costUsd: number }, want: ReturnType<typeof sum>) => {
      expect(got.inputTokens).toBe(want.inputTokens);
      expect(got.outputTokens).toBe(want.outputTokens);
      expect(got.calls).toBe(want.calls);
      expect(got.costUsd).toBeCloseTo(want.costUsd, 12);
    };
    check(engine.usage('acme'), sum(acme));
    expect(engine.usage('acme').calls).toBe(6);
    check(engine.usage('other'), sum([other]));
    check(engine.usage(), sum([...acme, other, anon]));
    expect(engine.usage('nobody')).toEqual({ inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 });
    // a snapshot: mutating it does not change the engine's totals
    const snap = engine.usage('acme') as { calls: number };
    snap.calls = 999;
    expect(engine.usage('acme').calls).toBe(6);
  });

  it('engine.stream runs count for their tenant', async () => {
    const engine = simEngine();
    const rs = await collect(engine.stream(two, ['a', 'b', 'c'], { tenant: 'streamer' }));
    expect(engine.usage('streamer').calls).toBe(6);
    expect(engine.usage('streamer').outputTokens).toBe(rs.reduce((n, r) => n + r.usage.outputTokens, 0));
  });

  const child = topology('llm-child', { input: z.object({ q: z.string() }) })
    .llm('inner', { model: 'sim:fast', maxTokens: 7, prompt: ({ input }) => `inner ${input.q}` })
    .build({ output: 'inner' });
  const parent = topology('llm-parent', { input: z.string() })
    .llm('outer', { model: 'sim:fast', maxTokens: 5, prompt: ({ input }) => `outer ${input}` })
    .sub('child', { topology: child, input: ({ input }) => ({ q: input }) })
    .build();

  it("child runs roll up into the parent's usage and tenant", async () => {
    const engine = simEngine({}, { prices: { 'sim:fast': { input: 1, output: 2 } } });
    const r = await engine.run(parent, 'q', { tenant: 'acme' });
    expect(r.status).toBe('completed');
    const outer = r.outputs.outer!;
    const inner = r.outputs.child!;
    expect(r.usage.calls).toBe(2);
    expect(r.usage.outputTokens).toBe(5 + 7);
    expect(r.usage.inputTokens).toBe(outer.usage.inputTokens + inner.usage.inputTokens);
    expect(r.usage.costUsd).toBeCloseTo(outer.costUsd + inner.costUsd, 15);
    expect(r.usage.byNode.outer).toMatchObject({ outputTokens: 5, calls: 1 });
    // counted once for the engine and the tenant (not once per level)
    expect(engine.usage().calls).toBe(2);
    expect(engine.usage('acme')).toMatchObject({ calls: 2, outputTokens: 12 });
  });

  it("a sub-topology node's share of the usage appears in the parent's byNode", async () => {
    const engine = simEngine();
    const r = await engine.run(parent, 'q');
    expect(r.usage.byNode.child).toMatchObject({ outputTokens: 7, calls: 1 });
    const calls = Object.values(r.usage.byNode).reduce((n, u) => n + u.calls, 0);
    expect(calls).toBe(r.usage.calls);
  });

  it('usage is counted with the tokenizer when the provider reports none (estimated: true)', async () => {
    const provider: Provider = {
      name: 'quiet',
      stream: () => new Observable<ProviderEvent>((s) => {
        s.next({ type: 'response', status: 200, rateLimit: {} });
        for (const t of ['The', ' quick', ' brown', ' fox', ' jumps.']) s.next({ type: 'text', text: t });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider], prices: { 'quiet:m': { input: 1, output: 2 } } }) });
    const t = topology('llm-no-usage')
      .llm('gen', { model: 'quiet:m', system: 'You are terse.', prompt: () => 'Say something about a fox.' })
      .build({ output: 'gen' });
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('completed');
    const out: LlmOutput = r.output!;
    expect(out.text).toBe('The quick brown fox jumps.');
    expect(out.usage.estimated).toBe(true);
    const input = countMessageTokens([{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Say something about a fox.' }], estimateTokens);
    const output = estimateTokens('The quick brown fox jumps.');
    expect(out.usage).toEqual({ inputTokens: input, outputTokens: output, cachedTokens: 0, reasoningTokens: 0, estimated: true });
    expect(out.costUsd).toBeCloseTo((input + 2 * output) / 1e6, 15);
    expect(r.usage).toMatchObject({ inputTokens: input, outputTokens: output, calls: 1 });
    expect(out.simulated).toBe(false);
    expect(out.finishReason).toBe('stop');
  });

  it("a stream that completes without a finish event ends with finishReason 'other'", async () => {
    const provider: Provider = {
      name: 'bare',
      stream: () => new Observable<ProviderEvent>((s) => {
        s.next({ type: 'text', text: 'hi' });
        s.complete();
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const t = topology('llm-no-finish').llm('gen', { model: 'bare:m', prompt: () => 'x' }).build({ output: 'gen' });
    const r = await engine.run(t, undefined);
    expect(r.output!.finishReason).toBe('other');
    expect(r.output!.text).toBe('hi');
  });
});

// ---------------------------------------------------------------- rate limits through the operator

describe('llm operator: rate limits', () => {
  it('a provider response with retry-after pauses the next request of that model', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const starts: number[] = [];
    const provider: Provider = {
      name: 'rl',
      stream: () => new Observable<ProviderEvent>((s) => {
        starts.push(Date.now());
        calls++;
        s.next({ type: 'response', status: 200, rateLimit: calls === 1 ? { retryAfterMs: 5_000 } : {} });
        s.next({ type: 'text', text: 'ok' });
        s.next({ type: 'finish', reason: 'stop' });
        s.complete();
      }),
    };
    const engine = createEngine({ models: createModels({ providers: [provider], rateLimits: { rl: { rpm: 1000 } } }) });
    const t = topology('llm-rl').llm('gen', { model: 'rl:m', maxTokens: 5, prompt: () => 'x' }).build({ output: 'gen' });
    const t0 = Date.now();
    const r1 = await engine.run(t, undefined);
    expect(r1.status).toBe('completed');
    const p2 = engine.run(t, undefined);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await p2).status).toBe('completed');
    expect(starts[1]! - t0).toBe(5_000);
  });
});

