// Spans through a real OpenTelemetry SDK (BasicTracerProvider + in-memory exporter): run, node and
// GenAI model-call spans with their parents and attributes, retries as span events, errors with status,
// capture off by default and redacted when on, and a run continuing a given W3C trace context.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { Subscription, throwError } from 'rxjs';
import { createEngine, createModels, createSimProvider, PolicyError, ProviderError, topology, type Engine, type Provider } from '../index.ts';
import { createMemoryStore } from '../stores/memory.ts';
import { createTelemetry } from './telemetry.ts';
import { traceEvents } from './tracing.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
let engine: Engine | undefined;

afterEach(async () => {
  exporter.reset();
  await engine?.shutdown({ mode: 'cancel', timeoutMs: 1000 });
  engine = undefined;
});

const parentId = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
const byName = (name: string): ReadableSpan => {
  const s = exporter.getFinishedSpans().find((x) => x.name === name);
  if (s === undefined) throw new Error(`no span '${name}' in ${exporter.getFinishedSpans().map((x) => x.name).join(', ')}`);
  return s;
};

const qa = topology('qa', { input: z.object({ q: z.string() }) })
  .map('retrieve', { run: ({ input }) => `docs for ${input.q}` })
  .llm('answer', { after: ['retrieve'], model: 'sim:fast', system: 'Answer briefly.', prompt: ({ input }) => `${input.q} (mail ada@example.com)`, maxTokens: 64, temperature: 0.2 })
  .build({ output: 'answer' });

describe('tracing', () => {
  it('makes invoke_workflow, node and chat spans with GenAI attributes and the right parents', async () => {
    engine = createEngine();
    const telemetry = createTelemetry({ tracer, metrics: false });
    const sub = telemetry.attach(engine);
    const r = await engine.run(qa, { q: 'why rxjs?' }, { tenant: 'acme' });
    sub.unsubscribe();
    expect(r.status).toBe('completed');
    const run = byName('invoke_workflow qa');
    const node = byName('node answer');
    const chat = byName('chat fast');
    expect(run.attributes).toMatchObject({ 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'qa', 'llmo.run_id': r.runId });
    expect(parentId(node)).toBe(run.spanContext().spanId);
    expect(parentId(byName('node retrieve'))).toBe(run.spanContext().spanId);
    expect(parentId(chat)).toBe(node.spanContext().spanId);
    expect(new Set(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(chat.kind).toBe(2); // SpanKind.CLIENT
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'sim', 'gen_ai.request.model': 'fast', 'gen_ai.response.model': 'fast',
      'gen_ai.request.temperature': 0.2, 'gen_ai.request.max_tokens': 64, 'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': r.usage.inputTokens, 'gen_ai.usage.output_tokens': r.usage.outputTokens,
    });
    // capture is off by default: no prompt or completion on the span
    expect(chat.attributes['gen_ai.input.messages']).toBeUndefined();
    expect(chat.attributes['gen_ai.output.messages']).toBeUndefined();
    expect(run.attributes['gen_ai.usage.output_tokens']).toBe(r.usage.outputTokens);
  });

  it('captures prompts and completions only when asked, with PII masked by default', async () => {
    engine = createEngine();
    const sub = createTelemetry({ tracer, metrics: false, capture: { content: true } }).attach(engine);
    await engine.run(qa, { q: 'why?' });
    sub.unsubscribe();
    const chat = byName('chat fast');
    const input = JSON.parse(String(chat.attributes['gen_ai.input.messages'])) as { role: string; parts: { type: string; content: string }[] }[];
    expect(input[0]!.role).toBe('user');
    expect(input[0]!.parts[0]!.content).toContain('why?');
    expect(input[0]!.parts[0]!.content).not.toContain('ada@example.com');
    expect(JSON.parse(String(chat.attributes['gen_ai.system_instructions']))).toEqual([{ type: 'text', content: 'Answer briefly.' }]);
    const output = JSON.parse(String(chat.attributes['gen_ai.output.messages'])) as { role: string; finish_reason: string }[];
    expect(output[0]).toMatchObject({ role: 'assistant', finish_reason: 'stop' });
  });

  it('records each failed call as an errored chat span, retries as node span events, and the failure on node and run', async () => {
    const down: Provider = { name: 'down', stream: (req) => throwError(() => new ProviderError('SERVER_ERROR', 'upstream 503', true, { provider: 'down', model: req.model })) };
    engine = createEngine({ models: createModels({ providers: [down, createSimProvider()] }), resilience: { retry: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 } } });
    const t = topology('fails', { input: z.object({}) }).llm('a', { model: 'down:m1', prompt: () => 'x' }).build({ output: 'a' });
    const sub = createTelemetry({ tracer, metrics: false }).attach(engine);
    const r = await engine.run(t, {});
    sub.unsubscribe();
    const chats = exporter.getFinishedSpans().filter((s) => s.name.startsWith('chat '));
    expect(r.status).toBe('failed');
    expect(chats.length).toBe(2);
    for (const c of chats) {
      expect(c.status.code).toBe(SpanStatusCode.ERROR);
      expect(c.attributes['error.type']).toBeDefined();
    }
    expect(chats.map((c) => c.attributes['llmo.attempt'])).toEqual([1, 2]);
    const node = byName('node a');
    expect(node.events.map((e) => e.name)).toContain('retry');
    expect(node.status.code).toBe(SpanStatusCode.ERROR);
    expect(byName('invoke_workflow fails').status.code).toBe(SpanStatusCode.ERROR);
  });

  it('records a guard decision on a call as an event of its node span', async () => {
    engine = createEngine({ guard: { call: () => ({ action: 'deny', rule: 'no-fast', error: new PolicyError('POLICY_DENIED', 'no fast models', { rule: 'no-fast' }) }) } });
    const sub = createTelemetry({ tracer, metrics: false }).attach(engine);
    const r = await engine.run(qa, { q: 'why?' });
    sub.unsubscribe();
    expect(r.status).toBe('failed');
    const event = byName('node answer').events.find((e) => e.name === 'policy.decision');
    expect(event?.attributes).toMatchObject({ 'llmo.policy.stage': 'call', 'llmo.policy.action': 'deny', 'llmo.policy.rule': 'no-fast', 'error.type': 'POLICY_DENIED' });
  });

  it('parents a run on the W3C trace context it was given (another process\'s span)', async () => {
    engine = createEngine();
    const sub = traceEvents(engine.events$, tracer);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await engine.run(qa, { q: 'x' }, { traceContext: { traceparent, tracestate: 'vendor=1' } });
    sub.unsubscribe();
    const run = byName('invoke_workflow qa');
    expect(run.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentId(run)).toBe('00f067aa0ba902b7');
    expect(run.spanContext().traceState?.get('vendor')).toBe('1');
  });

  it('ends a parked run\'s spans, and its resumption in another engine continues the same trace', async () => {
    const store = createMemoryStore();
    const flow = () => topology('approval', { input: z.object({}) })
      .map('draft', { run: () => 'draft' })
      .wait('approve', { after: ['draft'], name: 'approval', schema: z.object({ ok: z.boolean() }) })
      .map('publish', { after: ['approve'], run: ({ deps }) => deps.approve.ok })
      .build({ output: 'publish' });
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const e1 = createEngine({ store, topologies: [flow()] });
    const sub1 = createTelemetry({ tracer, metrics: false }).attach(e1);
    expect((await e1.run(flow(), {}, { runId: 'p1', traceContext: { traceparent } })).status).toBe('waiting');
    await e1.shutdown();
    sub1.unsubscribe();
    const parked = byName('invoke_workflow approval');
    expect(parked.attributes).toMatchObject({ 'llmo.parked': true, 'llmo.wait.name': 'approval' });
    expect(parked.status.code).toBe(SpanStatusCode.UNSET);
    expect(byName('node approve').parentSpanContext?.spanId).toBe(parked.spanContext().spanId);
    exporter.reset();
    engine = createEngine({ store, topologies: [flow()] });
    const sub2 = createTelemetry({ tracer, metrics: false }).attach(engine);
    const done = await (await engine.signal('p1', 'approval', { ok: true })).result!;
    sub2.unsubscribe();
    expect(done.status).toBe('completed');
    const resumed = byName('invoke_workflow approval');
    expect(resumed.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentId(resumed)).toBe('00f067aa0ba902b7');
    expect(resumed.events.map((e) => e.name)).toContain('node.resumed');
  });

  it('rejects a malformed traceparent with the field named', async () => {
    engine = createEngine();
    await expect(engine.run(qa, { q: 'x' }, { traceContext: { traceparent: 'nope' } })).rejects.toMatchObject({ code: 'OPTIONS_INVALID' });
  });

  it('gives the W3C context of open run and node spans, and nothing once they ended', async () => {
    engine = createEngine();
    const telemetry = createTelemetry({ tracer, metrics: false });
    const sub = telemetry.attach(engine);
    let seen: { run?: string | undefined; node?: string | undefined } = {};
    const t = topology('ctx', { input: z.object({}) })
      .map('a', { run: (ctx) => { seen = { run: telemetry.traceContext(ctx.runId)?.traceparent, node: telemetry.traceContext(ctx.runId, 'a')?.traceparent }; return 1; } })
      .build({ output: 'a' });
    const r = await engine.run(t, {});
    sub.unsubscribe();
    const run = byName('invoke_workflow ctx');
    const node = byName('node a');
    expect(seen.run).toBe(`00-${run.spanContext().traceId}-${run.spanContext().spanId}-01`);
    expect(seen.node).toBe(`00-${node.spanContext().traceId}-${node.spanContext().spanId}-01`);
    expect(telemetry.traceContext(r.runId)).toBeUndefined();
  });

  it('subscribes nothing when there is nothing to feed (no SDK registered, no rules): telemetry off costs a run nothing', () => {
    const subscribe = vi.fn(() => new Subscription());
    const sub = createTelemetry().attach({ events$: { subscribe } as never });
    expect(subscribe).not.toHaveBeenCalled();
    sub.unsubscribe();
    createTelemetry({ tracer }).attach({ events$: { subscribe } as never });
    expect(subscribe).toHaveBeenCalledTimes(1);
  });

  it('validates its options, naming the field', () => {
    expect(() => createTelemetry({ tracer: {} as never })).toThrow(/tracer/);
    expect(() => createTelemetry({ capture: { content: 'yes' } as never })).toThrow(/capture/);
  });
});
