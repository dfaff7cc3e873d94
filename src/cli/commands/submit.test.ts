/**
 * `llmo submit` as the start of a trace: each request is a `submit <topology>` producer span whose
 * context travels with the request, so the worker's run span is its child (one trace). The tracer
 * provider is registered globally here, as the CLI's SDK registers it.
 */
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEngine, topology } from '../../index.ts';
import { createTelemetry } from '../../observability/telemetry.ts';
import { createMemoryTransport } from '../../transports/index.ts';
import type { KafkaTransport } from '../../transports/kafka/index.ts';
import { createWorker } from '../../worker/index.ts';
import { EXIT } from '../exit.ts';
import { submitCommand } from './submit.ts';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => { trace.setGlobalTracerProvider(provider); });
afterAll(() => { trace.disable(); });
afterEach(() => exporter.reset());

const io = (): { out: Writable; err: Writable; color: boolean; env: NodeJS.ProcessEnv; errText: () => string } => {
  let err = '';
  return {
    out: new Writable({ write(_c, _e, cb) { cb(); } }),
    err: new Writable({ write(c, _e, cb) { err += String(c); cb(); } }),
    color: false, env: {}, errText: () => err,
  };
};

const echo = topology('echo', { input: z.object({ text: z.string() }) })
  .map('upper', { run: ({ input }) => input.text.toUpperCase() })
  .build({ output: 'upper' });
const memory = (): KafkaTransport => Object.assign(createMemoryTransport(), { ensureTopics: async () => undefined });
const opts = { brokers: '127.0.0.1:9092', prefix: 'llmo', count: 2, input: '{"text":"hi"}', timeout: 60_000 };
const named = (prefix: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name.startsWith(prefix));

describe('llmo submit spans', () => {
  it('one producer span per request; the worker run span continues its trace as its child', async () => {
    const transport = memory();
    const telemetry = createTelemetry({ metrics: false });
    const engine = createEngine();
    const sub = telemetry.attach(engine);
    const worker = createWorker({ engine, transport, topologies: [echo], maxInFlight: 2, telemetry });
    await worker.start();
    const c = io();
    expect(await submitCommand('echo', opts, c, () => ({ ok: true, transport }))).toBe(EXIT.ok);
    await worker.stop();
    sub.unsubscribe();
    const submits = named('submit echo');
    const runs = named('invoke_workflow echo');
    expect(submits).toHaveLength(2);
    expect(runs).toHaveLength(2);
    for (const s of submits) {
      expect(s.kind).toBe(SpanKind.PRODUCER);
      expect(s.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': transport.topics.request, 'messaging.operation.type': 'send', 'llmo.status': 'completed' });
      const run = runs.find((r) => r.attributes['llmo.run_id'] === s.attributes['llmo.run_id']);
      expect(run?.spanContext().traceId).toBe(s.spanContext().traceId);
      expect(run?.parentSpanContext?.spanId).toBe(s.spanContext().spanId);
    }
    expect(new Set(submits.map((s) => s.spanContext().traceId)).size).toBe(2);
    expect(c.errText()).not.toContain('telemetry');
  });

  it('--tenant, --user, --priority and --deadline go with each request, and the worker runs it so', async () => {
    const transport = memory();
    const engine = createEngine();
    const started: unknown[] = [];
    engine.events$.subscribe((e) => { if (e.type === 'run.started') started.push({ tenant: e.tenant, user: e.user, priority: e.priority, deadlineMs: e.deadlineMs }); });
    const worker = createWorker({ engine, transport, topologies: [echo], maxInFlight: 2 });
    await worker.start();
    const who = { tenant: 'acme', user: 'ana', priority: 'high', deadline: 30_000 } as const;
    expect(await submitCommand('echo', { ...opts, count: 1, ...who }, io(), () => ({ ok: true, transport }))).toBe(EXIT.ok);
    await worker.stop();
    const requests: unknown[] = [];
    transport.read('request', { fromBeginning: true }).subscribe((m) => requests.push(m.value)).unsubscribe();
    expect(requests).toEqual([expect.objectContaining({ tenant: 'acme', user: 'ana', priority: 'high', deadlineMs: 30_000 })]);
    expect(started).toEqual([{ tenant: 'acme', user: 'ana', priority: 'high', deadlineMs: 30_000 }]);
  });

  it('TRACEPARENT parents the submit spans; a request without result ends its span as an error at the timeout', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const c = { ...io(), env: { TRACEPARENT: `00-${traceId}-00f067aa0ba902b7-01` } };
    expect(await submitCommand('echo', { ...opts, count: 1, timeout: 50 }, c, () => ({ ok: true, transport: memory() }))).toBe(EXIT.runFailed);
    const [s] = named('submit echo');
    expect(s?.spanContext().traceId).toBe(traceId);
    expect(s?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(s?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no result within 50 ms' });
  });
});
