// The CLI's OpenTelemetry wiring end to end, in processes: an `llmo worker` started with the usual OTEL_*
// variables (OTEL_EXPORTER_OTLP_ENDPOINT at a real Jaeger, OTEL_SERVICE_NAME) serves a topology over a real
// Kafka broker. A request submitted under a span (by a client in this process, then by an `llmo submit`
// process under TRACEPARENT) must be ONE trace in Jaeger's query API: the submitter's span -> invoke_workflow
// (the worker process's service) -> node spans -> chat span with gen_ai attributes. Last, the worker stops
// on SIGTERM, flushing its spans, with exit 0 and no telemetry problem reported.
// Needs a broker (the kafka project's global setup), a Jaeger (LLMO_JAEGER_OTLP, LLMO_JAEGER_QUERY) and the
// built CLI (dist/, `npm run build`; `npm test` builds it first). Skipped naming what is missing; under
// CI=true a missing Jaeger fails it. The tests run in order: they share the worker process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { traceContextOfSpan } from '../../src/observability/index.ts';
import type { RunResultMessage } from '../../src/transports/messages.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { createClient } from '../../src/worker/index.ts';
import { deleteTopics, rawKafka, REPO, uniquePrefix } from '../kafka/support.ts';
import { describeTrace, jaegerEnv, jaegerQuery, type StoredSpan, type StoredTrace } from '../support/jaeger.ts';

const brokers = inject('kafkaBrokers');
const jaeger = jaegerEnv();
const skipped = brokers === '' ? 'no Kafka broker' : jaeger.ok ? undefined : jaeger.reason;
const mustRun = process.env.CI === 'true';
const FIXTURE = 'test/observability/fixtures/traced-answer.ts';
const TOPOLOGY = 'traced-answer';
const tag = randomBytes(3).toString('hex');
const SERVICES = { worker: `llmo-it-cli-worker-${tag}`, submit: `llmo-it-cli-submit-${tag}`, test: 'llmo-it-cli-test' } as const;

/** OTLP/HTTP, traces only (this Jaeger takes no metrics or logs), a short batch delay so spans leave soon. */
const otelEnv = (service: string, otlp: string): NodeJS.ProcessEnv => ({
  ...process.env, LOG_LEVEL: 'warn',
  OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_SERVICE_NAME: service,
  OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_BSP_SCHEDULE_DELAY: '100',
});

/** A child's exit and its output so far. */
function watch(child: ChildProcess): { exited: Promise<number | string>; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-65_536)));
  const exited = new Promise<number | string>((res) => child.once('exit', (code, signal) => res(code ?? signal ?? 'unknown')));
  return { exited, out: () => out, err: () => err };
}

describe.skipIf(skipped !== undefined && !mustRun)(`llmo worker and llmo submit export to Jaeger from OTEL_* variables${skipped === undefined ? '' : ` (skipped: ${skipped})`}`, () => {
  const prefix = uniquePrefix('jaeger-cli');
  const cleanups: (() => Promise<void> | void)[] = [];
  let worker: { child: ChildProcess } & ReturnType<typeof watch>;
  let query: ReturnType<typeof jaegerQuery>;

  beforeAll(async () => {
    if (!jaeger.ok || skipped !== undefined) throw new Error(`CI=true, but ${skipped}: the tracing integration test cannot run`);
    query = jaegerQuery(jaeger.query, { attempts: 80, intervalMs: 250 });
    const child = spawn(process.execPath, ['bin/llmo.mjs', 'worker', FIXTURE, '--brokers', brokers, '--prefix', prefix, '--max-in-flight', '2'], {
      cwd: REPO, env: otelEnv(SERVICES.worker, jaeger.otlp), stdio: ['ignore', 'ignore', 'pipe'],
    });
    worker = { child, ...watch(child) };
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await worker.exited;
    });
    await new Promise<void>((res, rej) => {
      const timer = setInterval(() => { if (/worker \S+ serving '/.test(worker.err())) { clearInterval(timer); res(); } }, 50);
      void worker.exited.then((code) => { clearInterval(timer); rej(new Error(`llmo worker exited (${code}) before it served:\n${worker.err()}`)); });
    });
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await deleteTopics(rawKafka(brokers), prefix);
  });

  /** The trace once the parent span and the worker's run, node and chat spans are in it; checks their shape. */
  async function workerSpansUnder(traceId: string, parentName: string, parentService: string, result: RunResultMessage): Promise<StoredTrace> {
    const names = ['invoke_workflow traced-answer', 'node clean', 'node answer', 'chat default'];
    const stored = await query.getTrace(traceId, {
      until: (t) => t.spans.some((s) => s.name === parentName && s.service === parentService) && names.every((n) => t.spans.some((s) => s.name === n && s.service === SERVICES.worker)),
    });
    const trail = describeTrace(stored);
    const get = (name: string): StoredSpan => stored.spans.find((s) => s.name === name)!;
    const run = get('invoke_workflow traced-answer');
    expect(run.parentSpanId, trail).toBe(get(parentName).spanId);
    expect(run.attributes['llmo.run_id']).toBe(result.runId);
    expect(get('node clean').parentSpanId, trail).toBe(run.spanId);
    expect(get('node answer').parentSpanId, trail).toBe(run.spanId);
    const chat = get('chat default');
    expect(chat.parentSpanId, trail).toBe(get('node answer').spanId);
    expect(chat.kind).toBe('client');
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'default', 'gen_ai.request.max_tokens': 12,
      'gen_ai.usage.input_tokens': result.usage.inputTokens, 'gen_ai.usage.output_tokens': result.usage.outputTokens,
    });
    expect(chat.attributes['gen_ai.response.finish_reasons']).toEqual([expect.any(String)]);
    return stored;
  }

  it('a request a client submits under its span: one trace with the worker process\'s run, node and chat spans', async () => {
    if (!jaeger.ok) throw new Error(jaeger.reason);
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': SERVICES.test }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${jaeger.otlp}/v1/traces` }))],
    });
    cleanups.push(() => provider.shutdown());
    const transport = createKafkaTransport({ brokers: brokers.split(','), prefix, clientId: 'cli-trace-submitter' });
    const client = createClient(transport);
    cleanups.push(() => transport.close(), () => client.close());

    const span = provider.getTracer('app').startSpan('submit');
    const result = await client.submit(TOPOLOGY, { q: ' why? ' }, { traceContext: traceContextOfSpan(span.spanContext())! });
    span.end();
    await provider.forceFlush();
    expect(result.status, result.error ?? '').toBe('completed');

    const stored = await workerSpansUnder(span.spanContext().traceId, 'submit', SERVICES.test, result);
    expect(new Set(stored.spans.map((s) => s.service)), describeTrace(stored)).toEqual(new Set([SERVICES.test, SERVICES.worker]));
  });

  it('llmo submit under TRACEPARENT: its producer span continues that trace and parents the worker\'s run', async () => {
    if (!jaeger.ok) throw new Error(jaeger.reason);
    const traceId = randomBytes(16).toString('hex');
    const outer = randomBytes(8).toString('hex'); // a caller's span that is never exported: the submit span's remote parent
    const child = spawn(process.execPath, ['bin/llmo.mjs', 'submit', TOPOLOGY, '--brokers', brokers, '--prefix', prefix, '--input', '{"q":" how? "}', '--timeout', '60000'], {
      cwd: REPO, env: { ...otelEnv(SERVICES.submit, jaeger.otlp), TRACEPARENT: `00-${traceId}-${outer}-01` }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const submit = watch(child);
    expect(await submit.exited, submit.err()).toBe(0);
    expect(submit.err(), 'llmo submit reported no telemetry problem').not.toMatch(/telemetry (error|warn)/i);
    const result = JSON.parse(submit.out().trim().split('\n').at(-1)!) as RunResultMessage;
    expect(result.status, result.error ?? '').toBe('completed');

    const stored = await workerSpansUnder(traceId, `submit ${TOPOLOGY}`, SERVICES.submit, result);
    const trail = describeTrace(stored);
    const span = stored.spans.find((s) => s.name === `submit ${TOPOLOGY}`)!;
    expect(span.parentSpanId, trail).toBe(outer);
    expect(span.kind).toBe('producer');
    expect(span.attributes).toMatchObject({ 'messaging.system': 'kafka', 'llmo.run_id': result.runId });
    expect(new Set(stored.spans.map((s) => s.service)), trail).toEqual(new Set([SERVICES.submit, SERVICES.worker]));
  });

  it('the worker stops on SIGTERM with exit 0, having reported no telemetry problem', async () => {
    worker.child.kill('SIGTERM'); // finishes what is in flight, flushes the SDK, exits
    expect(await worker.exited, worker.err()).toBe(0);
    expect(worker.err(), 'the worker reported no telemetry problem').not.toMatch(/telemetry (error|warn)/i);
  });
});
