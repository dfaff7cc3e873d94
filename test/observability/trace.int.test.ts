// One trace across processes, read back from a real Jaeger: a submitter (its own tracer provider) opens a
// `submit` span and sends the request over a real Kafka broker with its W3C trace context; worker A runs the
// run and sends its remote node (`remote: 'edge'`) to worker B. Each side exports OTLP/HTTP to Jaeger under
// its own service name; the context travels only in Kafka record headers. Jaeger's query API must then hold
// ONE trace: submit -> invoke_workflow (A) -> node spans (A) -> chat span (A, gen_ai.* attributes), and
// the edge node's run and node spans from worker B under A's edge node span. A second test sends a model
// call that fails, is retried and falls back: errored chat spans, retry and fallback span events and the
// statuses must survive the OTLP export and Jaeger's storage too.
// Needs a broker (the kafka project's global setup: KAFKA_BROKERS, Docker or scripts/kafka-local.sh) and
// a Jaeger (LLMO_JAEGER_OTLP, LLMO_JAEGER_QUERY: `bash scripts/jaeger-local.sh start` prints them).
// Skipped with the reason in its name when one is missing; under CI=true a missing Jaeger fails it.
import { SpanKind } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { throwError } from 'rxjs';
import { createEngine, createModels, createSimProvider, ProviderError, topology, type Provider } from '../../src/index.ts';
import { createTelemetry, traceContextOfSpan } from '../../src/observability/index.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { createClient, createRemoteExecutor, createRemoteWorker, createWorker } from '../../src/worker/index.ts';
import { deleteTopics, rawKafka, uniquePrefix } from '../kafka/support.ts';
import { describeTrace, jaegerEnv, jaegerQuery, type StoredSpan, type StoredTrace } from '../support/jaeger.ts';

const brokers = inject('kafkaBrokers');
const jaeger = jaegerEnv();
const missing = brokers === '' ? 'no Kafka broker' : jaeger.ok ? undefined : jaeger.reason;
const mustRun = process.env.CI === 'true';

const SERVICES = { submitter: 'llmo-it-submitter', a: 'llmo-it-worker-a', b: 'llmo-it-worker-b' } as const;

const pipeline = topology('jaeger-trace', { input: z.object({ q: z.string() }) })
  .map('clean', { run: ({ input }) => input.q.trim() })
  .map('edge', { after: ['clean'], remote: 'edge', run: ({ deps }) => deps.clean.toUpperCase() })
  .llm('answer', { after: ['edge'], model: 'sim:default', prompt: ({ deps }) => `explain ${deps.edge}`, maxTokens: 16 })
  .build({ output: 'answer' });

/** An exporter that remembers failed exports: a span Jaeger refused fails the test, not only a diag line. */
function recording(inner: SpanExporter, failures: unknown[]): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (r: ExportResult) => void) {
      inner.export(spans, (r) => {
        if (r.code !== 0) failures.push(r.error ?? new Error(`export of ${spans.length} span(s) failed`));
        done(r);
      });
    },
    shutdown: () => inner.shutdown(),
    ...(inner.forceFlush === undefined ? {} : { forceFlush: () => inner.forceFlush!() }),
  };
}

describe.skipIf(missing !== undefined && !mustRun)(`one trace across workers, in Jaeger${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  const prefix = uniquePrefix('jaeger');
  const failures: unknown[] = [];
  const providers: BasicTracerProvider[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const provider = (service: string): BasicTracerProvider => {
    if (!jaeger.ok) throw new Error(jaeger.reason);
    const exporter = recording(new OTLPTraceExporter({ url: `${jaeger.otlp}/v1/traces`, timeoutMillis: 10_000 }), failures);
    const p = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service }),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 100 })],
    });
    providers.push(p);
    return p;
  };

  beforeAll(() => {
    if (missing !== undefined) throw new Error(`CI=true, but ${missing}: the tracing integration test cannot run`);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    for (const p of providers) await p.shutdown();
    await deleteTopics(rawKafka(brokers), prefix);
  });

  it('submit -> run on worker A -> remote node on worker B is one trace with the right parents and gen_ai attributes', async () => {
    if (!jaeger.ok) throw new Error(jaeger.reason);
    const kafka = (clientId: string) => createKafkaTransport({ brokers: brokers.split(','), prefix, partitions: 2, clientId });
    const [tSubmit, tA, tB] = [kafka('submitter'), kafka('worker-a'), kafka('worker-b')];
    const telA = createTelemetry({ tracer: provider(SERVICES.a).getTracer('llm-orchestrator'), metrics: false });
    const telB = createTelemetry({ tracer: provider(SERVICES.b).getTracer('llm-orchestrator'), metrics: false });
    const remote = createRemoteExecutor(tA, { telemetry: telA });
    const engineA = createEngine({ remote });
    const engineB = createEngine();
    const subs = [telA.attach(engineA), telB.attach(engineB)];
    const worker = createWorker({ engine: engineA, transport: tA, topologies: [pipeline], telemetry: telA, inbound: false, lingerMs: 0 });
    const edge = createRemoteWorker({ engine: engineB, transport: tB, group: 'edge', topologies: [pipeline] });
    const client = createClient(tSubmit);
    cleanups.push(
      () => tSubmit.close(), () => tA.close(), () => tB.close(),
      () => subs.forEach((s) => s.unsubscribe()),
      () => engineA.shutdown(), () => engineB.shutdown(),
      () => client.close(), () => remote.close(), () => edge.stop(), () => worker.stop(),
    );
    await worker.start();
    await edge.start();

    const submitter = provider(SERVICES.submitter);
    const span = submitter.getTracer('app').startSpan('submit', { kind: SpanKind.PRODUCER });
    const { traceId, spanId: submitId } = span.spanContext();
    const result = await client.submit(pipeline.name, { q: ' why is the sky blue? ' }, { traceContext: traceContextOfSpan(span.spanContext())! });
    span.end();
    expect(result.status, result.error ?? '').toBe('completed');
    await worker.stop(); // its run spans end with the run; stopping also ends anything left open
    await edge.stop();
    for (const p of providers) await p.forceFlush();
    expect(failures, 'OTLP exports to Jaeger').toEqual([]);

    const spanOf = (t: StoredTrace, name: string, service: string): StoredSpan | undefined => t.spans.find((s) => s.name === name && s.service === service);
    const wanted: readonly [string, string][] = [
      ['submit', SERVICES.submitter],
      ['invoke_workflow jaeger-trace', SERVICES.a],
      ['node clean', SERVICES.a], ['node edge', SERVICES.a], ['node answer', SERVICES.a], ['chat default', SERVICES.a],
      ['invoke_workflow jaeger-trace', SERVICES.b], ['node edge', SERVICES.b],
    ];
    const query = jaegerQuery(jaeger.query, { attempts: 80, intervalMs: 250 });
    const stored = await query.getTrace(traceId, { until: (t) => wanted.every(([name, service]) => spanOf(t, name, service) !== undefined) });
    const get = (name: string, service: string): StoredSpan => {
      const s = spanOf(stored, name, service);
      if (s === undefined) throw new Error(`no span '${name}' of ${service} in trace ${traceId}:\n${describeTrace(stored)}`);
      return s;
    };
    const trail = describeTrace(stored);

    // one trace, these three services, nothing else
    expect(new Set(stored.spans.map((s) => s.service)), trail).toEqual(new Set(Object.values(SERVICES)));
    expect(stored.spans.every((s) => s.traceId === traceId), trail).toBe(true);

    // parents: submit -> run (A) -> nodes (A) -> chat (A); edge node (A) -> run (B) -> edge node (B)
    const submit = get('submit', SERVICES.submitter);
    expect(submit.spanId).toBe(submitId);
    expect(submit.parentSpanId).toBeUndefined();
    const run = get('invoke_workflow jaeger-trace', SERVICES.a);
    expect(run.parentSpanId, trail).toBe(submit.spanId);
    expect(run.attributes).toMatchObject({ 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'jaeger-trace', 'llmo.run_id': result.runId });
    for (const node of ['clean', 'edge', 'answer']) expect(get(`node ${node}`, SERVICES.a).parentSpanId, `node ${node}\n${trail}`).toBe(run.spanId);
    const chat = get('chat default', SERVICES.a);
    expect(chat.parentSpanId, trail).toBe(get('node answer', SERVICES.a).spanId);
    expect(chat.kind).toBe('client');
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'default',
      'gen_ai.request.max_tokens': 16,
      'gen_ai.usage.input_tokens': result.usage.inputTokens,
      'gen_ai.usage.output_tokens': result.usage.outputTokens,
    });
    expect(chat.attributes['gen_ai.provider.name']).toEqual(expect.any(String));
    expect(chat.attributes['gen_ai.provider.name']).not.toBe('');
    expect(chat.attributes['gen_ai.response.finish_reasons']).toEqual([expect.any(String)]);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(chat.status.code).not.toBe('error');
    const remoteRun = get('invoke_workflow jaeger-trace', SERVICES.b);
    expect(remoteRun.parentSpanId, trail).toBe(get('node edge', SERVICES.a).spanId);
    expect(get('node edge', SERVICES.b).parentSpanId, trail).toBe(remoteRun.spanId);
    // a model call happens on A only; B ran the edge node alone
    expect(stored.spans.filter((s) => s.service === SERVICES.b).map((s) => s.name).sort(), trail).toEqual(['invoke_workflow jaeger-trace', 'node edge']);

    // the search API finds the same trace by the run id on worker A's spans
    const found = await query.findTraces({ service: SERVICES.a, tags: { 'llmo.run_id': result.runId } });
    expect(found.map((t) => t.traceId)).toEqual([traceId]);
  });

  it('failed model calls, a retry and a fallback reach Jaeger as errored chat spans and node span events', async () => {
    if (!jaeger.ok) throw new Error(jaeger.reason);
    const down: Provider = { name: 'down', stream: (req) => throwError(() => new ProviderError('SERVER_ERROR', 'upstream 503', true, { provider: 'down', model: req.model })) };
    const engine = createEngine({
      models: createModels({ providers: [down, createSimProvider()] }),
      resilience: { retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 } },
    });
    const telemetry = createTelemetry({ tracer: provider(SERVICES.a).getTracer('llm-orchestrator'), metrics: false });
    const sub = telemetry.attach(engine);
    cleanups.push(() => sub.unsubscribe(), () => engine.shutdown());
    const t = topology('jaeger-fallback', { input: z.object({}) })
      .llm('a', { model: ['down:m1', 'sim:fast'], prompt: () => 'why?', maxTokens: 8 })
      .build({ output: 'a' });
    const parent = provider(SERVICES.submitter).getTracer('app').startSpan('caller');
    const r = await engine.run(t, {}, { traceContext: traceContextOfSpan(parent.spanContext())! });
    parent.end();
    expect(r.status, String(r.error)).toBe('completed');
    for (const p of providers) await p.forceFlush();
    expect(failures, 'OTLP exports to Jaeger').toEqual([]);

    const stored = await jaegerQuery(jaeger.query, { attempts: 80, intervalMs: 250 }).getTrace(parent.spanContext().traceId, {
      until: (x) => x.spans.some((s) => s.name === 'chat fast') && x.spans.filter((s) => s.name === 'chat m1').length >= 2 && x.spans.some((s) => s.name === 'caller'),
    });
    const trail = describeTrace(stored);
    const node = stored.spans.find((s) => s.name === 'node a')!;
    const failed = stored.spans.filter((s) => s.name === 'chat m1').sort((a, b) => Number(a.attributes['llmo.attempt']) - Number(b.attributes['llmo.attempt']));
    expect(failed.map((s) => s.attributes['llmo.attempt']), trail).toEqual([1, 2]);
    for (const s of failed) {
      expect(s.parentSpanId, trail).toBe(node.spanId);
      expect(s.status, trail).toEqual({ code: 'error', message: expect.stringContaining('upstream 503') });
      expect(s.attributes).toMatchObject({ 'gen_ai.provider.name': 'down', 'gen_ai.request.model': 'm1', 'error.type': 'SERVER_ERROR' });
    }
    const ok = stored.spans.find((s) => s.name === 'chat fast')!;
    expect(ok.parentSpanId, trail).toBe(node.spanId);
    expect(ok.status.code).not.toBe('error');
    expect(ok.attributes).toMatchObject({ 'gen_ai.provider.name': 'sim', 'gen_ai.usage.output_tokens': r.usage.outputTokens });
    expect(node.events.filter((e) => e.name === 'retry').map((e) => e.attributes['error.type']), trail).toEqual(['SERVER_ERROR']);
    expect(node.events.filter((e) => e.name === 'fallback').map((e) => [e.attributes['llmo.from'], e.attributes['llmo.to']])).toEqual([['down:m1', 'sim:fast']]);
    expect(node.status.code).not.toBe('error');
    expect(stored.spans.find((s) => s.name === 'invoke_workflow jaeger-fallback')!.parentSpanId, trail).toBe(parent.spanContext().spanId);
  });
});
