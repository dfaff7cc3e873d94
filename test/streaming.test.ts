/**
 * Token streaming between nodes: a consumer declared with `streamFrom` starts
 * with its llm producer, reads its tokens live through `ctx.tokens()`, may stop
 * it with `ctx.stop()`, and sees its failure. Tokens also travel on the bus as
 * `node.token` events.
 *
 * Timed simulated models run under vi.useFakeTimers(); nothing waits on
 * wall-clock time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { finalize, Observable, tap } from 'rxjs';
import { z } from 'zod';
import {
  createEngine, createModels, createSimProvider, isNodeError, isTopologyError, topology,
  type Engine, type EngineEvent, type Issue, type Provider, type ProviderEvent, type SimProviderOptions, type StreamChunk, type TokenEvent,
} from '../src/index.ts';
import { simTokens } from '../src/providers/sim.ts';


afterEach(() => {
  vi.useRealTimers();
});

// ---------------------------------------------------------------- helpers

/** A sim model that emits its first token after 100 ms, then one every 10 ms. */
const TICK = { ttftMs: 100, tokenMs: 10 } as const;

function simEngine(options: SimProviderOptions = { models: { tick: TICK } }): Engine {
  return createEngine({ models: createModels({ providers: [createSimProvider(options)] }) });
}

/** Wraps a provider to count the text events it really emitted and notice when its stream is torn down. */
function instrumented(inner: Provider): { provider: Provider; readonly stats: { text: number; subscribed: number; tornDown: number } } {
  const stats = { text: 0, subscribed: 0, tornDown: 0 };
  const provider: Provider = {
    name: inner.name,
    simulated: inner.simulated === true,
    stream: (req, signal) => {
      stats.subscribed++;
      return inner.stream(req, signal).pipe(
        tap((e) => { if (e.type === 'text') stats.text++; }),
        finalize(() => { stats.tornDown++; }),
      );
    },
  };
  return { provider, stats };
}

function tokensOn(engine: Engine): { readonly tokens: TokenEvent[]; readonly all: EngineEvent[]; stop(): void } {
  const tokens: TokenEvent[] = [];
  const all: EngineEvent[] = [];
  const sub = engine.events$.subscribe((e) => {
    all.push(e);
    if (e.type === 'node.token') tokens.push(e);
  });
  return { tokens, all, stop: () => sub.unsubscribe() };
}

function issuesOf(f: () => unknown): readonly Issue[] {
  try {
    f();
  } catch (e) {
    if (isTopologyError(e)) return e.issues;
    throw e;
  }
  throw new Error('expected a TopologyError');
}

/** The full answer of the `tick` model for a prompt (same provider options, same seed: same text). */
async function fullAnswer(prompt: string, maxTokens: number): Promise<string[]> {
  const t = topology('full').llm('gen', { model: 'sim:fast', maxTokens, prompt: () => prompt }).build({ output: 'gen' });
  const r = await simEngine().run(t, undefined);
  return simTokens(r.output!.text);
}

// ---------------------------------------------------------------- live consumer

describe('streaming consumer', () => {
  it('starts before its producer finishes, sees exactly its tokens in order, and completes with it', async () => {
    vi.useFakeTimers();
    const engine = simEngine();
    const bus = tokensOn(engine);
    let producerDone = false;
    let producerDoneAt = -1;
    engine.events$.subscribe((e) => {
      if (e.type === 'node.completed' && e.nodeId === 'gen') {
        producerDone = true;
        producerDoneAt = Date.now();
      }
    });
    const seen: { chunk: StreamChunk; producerDone: boolean; at: number }[] = [];
    let consumerStartedAt = -1;
    let consumerCompletedAt = -1;
    const t0 = Date.now();
    const t = topology('stream-live', { input: z.string() })
      .llm('gen', { model: 'sim:tick', maxTokens: 20, prompt: ({ input }) => input })
      .map('watch', {
        streamFrom: 'gen',
        run: (ctx) =>
          new Promise<string[]>((resolve, reject) => {
            consumerStartedAt = Date.now();
            ctx.tokens('gen').subscribe({
              next: (chunk) => seen.push({ chunk, producerDone, at: Date.now() }),
              error: reject,
              complete: () => {
                consumerCompletedAt = Date.now();
                resolve(seen.map((s) => (s.chunk.kind === 'token' ? s.chunk.text : '')));
              },
            });
          }),
      })
      .build();
    const p = engine.run(t, 'Explain streaming between stages, please.');
    await vi.advanceTimersByTimeAsync(0);
    expect(consumerStartedAt).toBe(t0); // started with its producer, before any token
    expect(seen).toHaveLength(0);

    await vi.advanceTimersByTimeAsync(TICK.ttftMs + 4 * TICK.tokenMs); // 5 tokens so far
    expect(seen).toHaveLength(5);
    expect(producerDone).toBe(false);
    expect(consumerCompletedAt).toBe(-1);
    expect(seen.every((s) => !s.producerDone)).toBe(true);

    await vi.advanceTimersByTimeAsync(TICK.tokenMs * 20);
    const r = await p;
    expect(r.status).toBe('completed');
    const gen = r.outputs.gen!;
    expect(seen).toHaveLength(20);
    expect(seen.map((s) => s.chunk)).toEqual(seen.map((s, k) => ({ kind: 'token', index: k, text: s.chunk.kind === 'token' ? s.chunk.text : '' })));
    expect(r.outputs.watch!.join('')).toBe(gen.text);
    expect(r.outputs.watch).toEqual(simTokens(gen.text));
    // token k arrived at ttft + k * tokenMs, i.e. while the producer was still generating
    seen.forEach((s, k) => expect(s.at - t0).toBe(TICK.ttftMs + k * TICK.tokenMs));
    // its Observable completed when the producer completed (same virtual instant, after the last token)
    expect(consumerCompletedAt).toBe(producerDoneAt);
    expect(consumerCompletedAt).toBeGreaterThan(seen.at(-1)!.at - 1);
    // the bus saw the same tokens
    expect(bus.tokens.filter((e) => e.nodeId === 'gen').map((e) => e.text).join('')).toBe(gen.text);
    bus.stop();
  });

  it('two consumers of one producer each see every token (late subscribers get a replay)', async () => {
    vi.useFakeTimers();
    const engine = simEngine();
    const t = topology('stream-two')
      .llm('gen', { model: 'sim:tick', maxTokens: 8, prompt: () => 'Two readers.' })
      .map('early', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<string>((resolve, reject) => {
          let s = '';
          ctx.tokens('gen').subscribe({ next: (c) => { if (c.kind === 'token') s += c.text; }, error: reject, complete: () => resolve(s) });
        }),
      })
      .map('late', {
        streamFrom: 'gen',
        run: async (ctx) => {
          await new Promise((r) => setTimeout(r, TICK.ttftMs + 3 * TICK.tokenMs)); // subscribe after 4 tokens
          return new Promise<string>((resolve, reject) => {
            let s = '';
            ctx.tokens('gen').subscribe({ next: (c) => { if (c.kind === 'token') s += c.text; }, error: reject, complete: () => resolve(s) });
          });
        },
      })
      .build();
    const p = engine.run(t, undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    const r = await p;
    expect(r.status).toBe('completed');
    expect(r.outputs.early).toBe(r.outputs.gen!.text);
    expect(r.outputs.late).toBe(r.outputs.gen!.text);
  });

  it('a streaming consumer may also wait for other nodes (after) and still read the whole stream', async () => {
    const engine = simEngine();
    const t = topology('stream-after')
      .map('slowDep', { run: async () => { await Promise.resolve(); return 'dep'; } })
      .llm('gen', { model: 'sim:fast', maxTokens: 6, prompt: () => 'hello' })
      .map('watch', {
        after: ['slowDep'],
        streamFrom: 'gen',
        run: (ctx) => new Promise<string>((resolve, reject) => {
          let s = '';
          ctx.tokens('gen').subscribe({ next: (c) => { if (c.kind === 'token') s += c.text; }, error: reject, complete: () => resolve(`${ctx.deps.slowDep}:${s}`) });
        }),
      })
      .build();
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('completed');
    expect(r.outputs.watch).toBe(`dep:${r.outputs.gen!.text}`);
  });

  it('ctx.tokens of a node that is not its streamFrom fails the consumer', async () => {
    const engine = simEngine();
    const t = topology('stream-wrong')
      .llm('gen', { model: 'sim:fast', maxTokens: 3, prompt: () => 'x' })
      .llm('other', { model: 'sim:fast', maxTokens: 3, prompt: () => 'y' })
      .map('watch', { streamFrom: 'gen', run: (ctx) => { ctx.tokens('other'); return 1; } })
      .build();
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('watch');
    expect(r.error?.message).toContain("streamFrom: 'other'");
  });
});

// ---------------------------------------------------------------- stop

describe('ctx.stop', () => {
  const guarded = (model: string, stopAfter: number, maxTokens = 30) =>
    topology('stream-guard', { input: z.string() })
      .llm('gen', { model, maxTokens, prompt: ({ input }) => input })
      .map('guard', {
        streamFrom: 'gen',
        run: (ctx) =>
          new Promise<{ seen: number; stopped: boolean; completed: boolean }>((resolve, reject) => {
            let seen = 0;
            const state = { stopped: false };
            ctx.tokens('gen').subscribe({
              next: (c) => {
                if (c.kind !== 'token') return;
                seen++;
                if (seen === stopAfter) {
                  state.stopped = true;
                  ctx.stop('gen', 'guard: enough');
                }
              },
              error: reject,
              complete: () => resolve({ seen, stopped: state.stopped, completed: true }),
            });
          }),
      })
      .build();

  it("a guard stopping a timed producer after N tokens: the producer ends 'stopped' with those tokens, its request is torn down, the run completes", async () => {
    vi.useFakeTimers();
    const prompt = 'Explain why guards stop generation early.';
    const full = await fullAnswer(prompt, 30);
    const { provider, stats } = instrumented(createSimProvider({ models: { tick: TICK } }));
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const bus = tokensOn(engine);
    const p = engine.run(guarded('sim:tick', 5), prompt);
    await vi.advanceTimersByTimeAsync(TICK.ttftMs + 4 * TICK.tokenMs); // the 5th token: the guard stops
    expect(stats.tornDown).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000); // nothing more comes
    const r = await p;
    expect(r.status).toBe('completed');
    const gen = r.outputs.gen!;
    expect(gen.finishReason).toBe('stopped');
    expect(gen.text).toBe(full.slice(0, 5).join(''));
    expect(stats.text).toBe(5);
    expect(bus.tokens.filter((e) => e.nodeId === 'gen')).toHaveLength(5);
    expect(r.outputs.guard).toEqual({ seen: 5, stopped: true, completed: true });
    // the stopped call is still accounted (counted with the tokenizer: the sim sends usage only at the end)
    expect(gen.usage.estimated).toBe(true);
    expect(r.usage.calls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    bus.stop();
  });

  it('structured output is not parsed for a stopped producer', async () => {
    vi.useFakeTimers();
    const engine = createEngine({
      models: createModels({ providers: [createSimProvider({ models: { tick: TICK }, respond: () => '{ "a": 1, "b": 2, "c": 3, "d": 4 }' })] }),
    });
    const t = topology('stream-guard-json')
      .llm('gen', { model: 'sim:tick', schema: z.object({ a: z.number() }), prompt: () => 'json' })
      .map('guard', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<void>((resolve) => {
          ctx.tokens('gen').subscribe({ next: () => { ctx.stop('gen'); resolve(); } });
        }),
      })
      .build();
    const p = engine.run(t, undefined);
    await vi.advanceTimersByTimeAsync(1_000);
    const r = await p;
    expect(r.status).toBe('completed');
    expect(r.outputs.gen!.finishReason).toBe('stopped');
    expect(r.outputs.gen!.text).toBe('{');
    expect(r.outputs.gen!.data).toBeUndefined();
  });

  it("a guard stopping a zero-delay producer ('sim:fast') after N tokens ends it 'stopped' with N tokens", async () => {
    const prompt = 'Explain why guards stop generation early.';
    const full = await fullAnswer(prompt, 30);
    const { provider, stats } = instrumented(createSimProvider());
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const r = await engine.run(guarded('sim:fast', 5), prompt);
    expect(r.status).toBe('completed');
    expect(r.outputs.gen!.finishReason).toBe('stopped');
    expect(r.outputs.gen!.text).toBe(full.slice(0, 5).join(''));
    expect(stats.text).toBe(5);
  });

  it('ctx.stop unsubscribes from a provider that only honours unsubscription', async () => {
    vi.useFakeTimers();
    const sim = createSimProvider({ models: { tick: TICK } });
    const { provider, stats } = instrumented({ name: 'sim', simulated: true, stream: (req) => sim.stream(req) /* ignores the signal */ });
    const engine = createEngine({ models: createModels({ providers: [provider] }) });
    const p = engine.run(guarded('sim:tick', 5), 'Unsubscribe me.');
    await vi.advanceTimersByTimeAsync(10_000);
    const r = await p;
    expect(r.outputs.gen!.finishReason).toBe('stopped');
    expect(stats.text).toBe(5);
    expect(stats.tornDown).toBe(1);
  });

  it('a guard stopping its producer before the first token: the producer ends stopped with no text', async () => {
    const engine = simEngine();
    const t = topology('stream-stop-at-once')
      .llm('gen', { model: 'sim:fast', maxTokens: 10, prompt: () => 'x' })
      .map('guard', { streamFrom: 'gen', run: (ctx) => { ctx.stop('gen', 'no thanks'); return 'stopped'; } })
      .build();
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('completed');
    expect(r.outputs.gen!.finishReason).toBe('stopped');
    expect(r.outputs.gen!.text).toBe('');
  });

  it('a guard stopping a producer that waits for the rate limiter ends it stopped; the run completes', async () => {
    vi.useFakeTimers();
    const engine = createEngine({ models: createModels({ providers: [createSimProvider()], rateLimits: { 'sim:fast': { rpm: 1 } } }) });
    const plain = topology('stream-rl-first').llm('gen', { model: 'sim:fast', maxTokens: 2, prompt: () => 'first' }).build();
    expect((await engine.run(plain, undefined)).status).toBe('completed'); // uses the only request of this minute
    const t = topology('stream-rl-stop')
      .llm('gen', { model: 'sim:fast', maxTokens: 10, prompt: () => 'x' })
      .map('guard', {
        streamFrom: 'gen',
        run: async (ctx) => {
          await new Promise((resolve) => setTimeout(resolve, 1_000)); // gen is still waiting for the limiter
          ctx.stop('gen', 'too slow');
          return 'stopped';
        },
      })
      .build();
    const p = engine.run(t, undefined);
    await vi.advanceTimersByTimeAsync(2_000);
    const r = await p;
    expect(r.error?.code).toBeUndefined();
    expect(r.status).toBe('completed');
    expect(r.outputs.gen!.finishReason).toBe('stopped');
    expect(r.outputs.gen!.text).toBe('');
  });

  it('ctx.stop after the producer finished is a no-op', async () => {
    const engine = simEngine();
    const t = topology('stream-late-stop')
      .llm('gen', { model: 'sim:fast', maxTokens: 4, prompt: () => 'x' })
      .map('guard', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<number>((resolve) => {
          let n = 0;
          ctx.tokens('gen').subscribe({ next: () => n++, complete: () => { ctx.stop('gen'); resolve(n); } });
        }),
      })
      .build();
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('completed');
    expect(r.outputs.gen!.finishReason).toBe('stop');
    expect(r.outputs.guard).toBe(4);
  });
});

// ---------------------------------------------------------------- producer failure

describe('producer failure', () => {
  const failingProvider = (after: number): Provider => ({
    name: 'flaky',
    stream: () => new Observable<ProviderEvent>((s) => {
      s.next({ type: 'response', status: 200, rateLimit: {} });
      let k = 0;
      const timer = setInterval(() => {
        if (k < after) s.next({ type: 'text', text: `t${k++} ` });
        else s.error(new Error('connection reset mid-stream'));
      }, 10);
      return () => clearInterval(timer);
    }),
  });

  it("the producer failing after some tokens errors the consumer's Observable; the run fails naming the producer", async () => {
    vi.useFakeTimers();
    const engine = createEngine({ models: createModels({ providers: [failingProvider(3)] }) });
    const got: { tokens: string[]; error?: unknown } = { tokens: [] };
    const t = topology('stream-fail')
      .llm('gen', { model: 'flaky:m', prompt: () => 'x' })
      .map('watch', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<string>((resolve, reject) => {
          ctx.tokens('gen').subscribe({
            next: (c) => { if (c.kind === 'token') got.tokens.push(c.text); },
            error: (e: unknown) => { got.error = e; reject(e); },
            complete: () => resolve('completed?'),
          });
        }),
      })
      .build();
    const p = engine.run(t, undefined);
    await vi.advanceTimersByTimeAsync(100);
    const r = await p;
    expect(got.tokens).toEqual(['t0 ', 't1 ', 't2 ']);
    expect(isNodeError(got.error)).toBe(true);
    expect(isNodeError(got.error) && got.error.nodeId).toBe('gen');
    expect((got.error as Error).message).toContain('connection reset mid-stream');
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('gen');
    expect(r.outputs).toEqual({});
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a producer whose prompt throws errors its consumer too', async () => {
    const engine = simEngine();
    let consumerError: unknown;
    const t = topology('stream-fail-prompt')
      .llm('gen', { model: 'sim:fast', prompt: () => { throw new Error('no prompt'); } })
      .map('watch', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<void>((resolve) => {
          ctx.tokens('gen').subscribe({ error: (e: unknown) => { consumerError = e; resolve(); }, complete: resolve });
        }),
      })
      .build();
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('failed');
    expect(isNodeError(r.error) && r.error.nodeId).toBe('gen');
    expect(isNodeError(consumerError) && consumerError.nodeId).toBe('gen');
  });
});

// ---------------------------------------------------------------- bus

describe('node.token events', () => {
  const two = topology('stream-bus', { input: z.string() })
    .llm('a', { model: 'sim:fast', maxTokens: 12, prompt: ({ input }) => `a ${input}` })
    .llm('b', { after: ['a'], model: 'sim:fast', maxTokens: 7, prompt: ({ input }) => `b ${input}` })
    .build();

  it('carry runId, topology, nodeId and a consecutive index from 0 per node; their texts make the output', async () => {
    const engine = simEngine();
    const bus = tokensOn(engine);
    const [r1, r2] = await Promise.all([engine.run(two, 'one'), engine.run(two, 'two')]);
    bus.stop();
    for (const r of [r1!, r2!]) {
      expect(r.status).toBe('completed');
      for (const [node, n] of [['a', 12], ['b', 7]] as const) {
        const evs = bus.tokens.filter((e) => e.runId === r.runId && e.nodeId === node);
        expect(evs.map((e) => e.index)).toEqual(Array.from({ length: n }, (_, k) => k));
        expect(evs.map((e) => e.text).join('')).toBe(r.outputs[node]!.text);
        for (const e of evs) {
          expect(e).toMatchObject({ type: 'node.token', topology: 'stream-bus' });
          expect(e.parentRunId).toBeUndefined();
          expect(typeof e.ts).toBe('number');
          expect('seq' in e).toBe(false); // tokens are not part of the run history
        }
      }
      expect(r.events.some((e) => (e.type as string) === 'node.token')).toBe(false);
    }
    expect(bus.tokens).toHaveLength(2 * (12 + 7));
  });

  it('tokens of a child run carry the parent run id', async () => {
    const engine = simEngine();
    const child = topology('stream-child').llm('inner', { model: 'sim:fast', maxTokens: 3, prompt: () => 'x' }).build({ output: 'inner' });
    const parent = topology('stream-parent').sub('s', { topology: child }).build();
    const bus = tokensOn(engine);
    const r = await engine.run(parent, undefined);
    bus.stop();
    expect(bus.tokens).toHaveLength(3);
    for (const e of bus.tokens) {
      expect(e.parentRunId).toBe(r.runId);
      expect(e.runId).not.toBe(r.runId);
      expect(e.topology).toBe('stream-child');
      expect(e.nodeId).toBe('inner');
    }
  });

  it('runs work with no bus subscriber (nothing is buffered for a later one), and streaming consumers still get tokens', async () => {
    const engine = simEngine();
    const t = topology('stream-quiet')
      .llm('gen', { model: 'sim:fast', maxTokens: 9, prompt: () => 'quiet' })
      .map('watch', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<number>((resolve, reject) => {
          let n = 0;
          ctx.tokens('gen').subscribe({ next: () => n++, error: reject, complete: () => resolve(n) });
        }),
      })
      .build();
    const r = await engine.run(t, undefined);
    expect(r.status).toBe('completed');
    expect(r.outputs.gen!.usage.outputTokens).toBe(9);
    expect(r.outputs.watch).toBe(9);
    const later = tokensOn(engine);
    await Promise.resolve();
    expect(later.all).toEqual([]);
    later.stop();
  });
});

// ---------------------------------------------------------------- validation

describe('streamFrom validation', () => {
  it('streamFrom a non-llm node is a TopologyError naming the field', () => {
    const issues = issuesOf(() =>
      topology('sf-map')
        .map('a', { run: () => 'x' })
        .map('b', { streamFrom: 'a', run: () => 1 })
        .build(),
    );
    expect(issues.map((i) => i.path)).toContainEqual(['nodes', 1, 'streamFrom']);
    expect(issues.find((i) => i.path.join('.') === 'nodes.1.streamFrom')!.message).toContain('only llm nodes stream tokens');
  });

  it('streamFrom a missing node is a TopologyError', () => {
    const issues = issuesOf(() => topology('sf-missing').map('b', { streamFrom: 'ghost', run: () => 1 }).build());
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toEqual(['nodes', 0, 'streamFrom']);
    expect(issues[0]!.message).toContain("missing node 'ghost'");
  });

  it('listing the same node in after and streamFrom is a TopologyError', () => {
    const issues = issuesOf(() =>
      topology('sf-both')
        .llm('gen', { model: 'sim:fast', prompt: () => 'x' })
        .map('b', { after: ['gen'], streamFrom: 'gen', run: () => 1 })
        .build(),
    );
    expect(issues.map((i) => i.path)).toContainEqual(['nodes', 1, 'streamFrom']);
    expect(issues.find((i) => i.path.join('.') === 'nodes.1.streamFrom')!.message).toContain('both streamFrom and after');
  });

  it('streaming from itself is a TopologyError naming nodes.0.streamFrom', () => {
    const issues = issuesOf(() => topology('sf-self').llm('gen', { model: 'sim:fast', streamFrom: 'gen', prompt: () => 'x' }).build());
    expect(issues.map((i) => i.path)).toContainEqual(['nodes', 0, 'streamFrom']);
  });
});

// ---------------------------------------------------------------- routes

describe('streaming and routes', () => {
  const routed = (calls: string[]) =>
    topology('sf-route', { input: z.boolean() })
      .route('pick', { branches: { talk: 'gen', quiet: 'silent' }, select: ({ input }) => (input ? 'talk' : 'quiet') })
      .llm('gen', { model: 'sim:fast', maxTokens: 4, prompt: () => { calls.push('gen'); return 'talk'; } })
      .map('silent', { run: () => { calls.push('silent'); return 'shh'; } })
      .map('watch', {
        streamFrom: 'gen',
        run: (ctx) => new Promise<number>((resolve, reject) => {
          calls.push('watch');
          let n = 0;
          ctx.tokens('gen').subscribe({ next: () => n++, error: reject, complete: () => resolve(n) });
        }),
      })
      .build();

  it('a route that skips the producer skips its streaming consumer too', async () => {
    const calls: string[] = [];
    const r = await simEngine().run(routed(calls), false);
    expect(r.status).toBe('completed');
    expect([...r.skipped].sort()).toEqual(['gen', 'watch']);
    expect(calls).toEqual(['silent']);
    expect(r.outputs).toEqual({ pick: 'quiet', silent: 'shh' });
  });

  it('a route that takes the producer runs its streaming consumer', async () => {
    const calls: string[] = [];
    const r = await simEngine().run(routed(calls), true);
    expect(r.status).toBe('completed');
    expect([...r.skipped]).toEqual(['silent']);
    expect(calls.sort()).toEqual(['gen', 'watch']);
    expect(r.outputs.watch).toBe(4);
  });
});
