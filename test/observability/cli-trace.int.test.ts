// The CLI's OpenTelemetry wiring end to end: an `llmo worker` process started with the usual OTEL_*
// variables (OTEL_EXPORTER_OTLP_ENDPOINT at a real Jaeger, OTEL_SERVICE_NAME) serves a topology over a
// real Kafka broker; a submitter in this process opens a `submit` span and sends its W3C context with the
// request. Jaeger's query API must then hold one trace: submit -> invoke_workflow (the worker process's
// service) -> node spans -> chat span with gen_ai attributes. The worker flushes its spans when it stops.
// Needs a broker (the kafka project's global setup), a Jaeger (LLMO_JAEGER_OTLP, LLMO_JAEGER_QUERY) and the
// built CLI (dist/, `npm run build`; `npm test` builds it first). Skipped naming what is missing; under
// CI=true a missing Jaeger fails it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { traceContextOfSpan } from '../../src/observability/index.ts';
import { createKafkaTransport } from '../../src/transports/kafka/index.ts';
import { createClient } from '../../src/worker/index.ts';
import { deleteTopics, rawKafka, REPO, uniquePrefix } from '../kafka/support.ts';
import { describeTrace, jaegerEnv, jaegerQuery, type StoredSpan } from '../support/jaeger.ts';

const brokers = inject('kafkaBrokers');
const jaeger = jaegerEnv();
// Transitional: the CLI's OTEL_* wiring (src/cli/otel.ts) is being built on its own branch; until it is
// merged this test has nothing to observe. Drop this guard once it is on main.
const cliOtel = existsSync(path.join(REPO, 'src/cli/otel.ts'));
const missing = brokers === '' ? 'no Kafka broker' : jaeger.ok ? undefined : jaeger.reason;
const skipped = !cliOtel ? 'the CLI has no OpenTelemetry wiring yet (src/cli/otel.ts)' : missing;
const mustRun = process.env.CI === 'true';
const FIXTURE = 'test/observability/fixtures/traced-answer.ts';

describe.skipIf(!cliOtel || (missing !== undefined && !mustRun))(`llmo worker exports to Jaeger from OTEL_* variables${skipped === undefined ? '' : ` (skipped: ${skipped})`}`, () => {
  const prefix = uniquePrefix('jaeger-cli');
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(() => {
    if (missing !== undefined) throw new Error(`CI=true, but ${missing}: the tracing integration test cannot run`);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await deleteTopics(rawKafka(brokers), prefix);
  });

  it('a request submitted under a span is one trace with the worker process\'s run, node and chat spans', async () => {
    if (!jaeger.ok) throw new Error(jaeger.reason);
    const service = `llmo-it-cli-worker-${randomBytes(3).toString('hex')}`;
    // OTLP/HTTP, as the OTLP exporters default to; traces only (this Jaeger takes no metrics or logs);
    // a short batch delay so spans leave soon, and the stop flushes the rest anyway.
    const env: NodeJS.ProcessEnv = {
      ...process.env, LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlp, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_SERVICE_NAME: service,
      OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none', OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    const child = spawn(process.execPath, ['bin/llmo.mjs', 'worker', FIXTURE, '--brokers', brokers, '--prefix', prefix, '--max-in-flight', '2'], {
      cwd: REPO, env, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | string>((res) => child.once('exit', (code, signal) => res(code ?? signal ?? 'unknown')));
    const ready = new Promise<void>((res, rej) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-65_536);
        if (/worker \S+ serving '/.test(stderr)) res();
      });
      void exited.then((code) => rej(new Error(`llmo worker exited (${code}) before it served:\n${stderr}`)));
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    await ready;

    const exporter = new OTLPTraceExporter({ url: `${jaeger.otlp}/v1/traces` });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'llmo-it-cli-submitter' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    cleanups.push(() => provider.shutdown());
    const transport = createKafkaTransport({ brokers: brokers.split(','), prefix, clientId: 'cli-trace-submitter' });
    const client = createClient(transport);
    cleanups.push(() => transport.close(), () => client.close());

    const span = provider.getTracer('app').startSpan('submit');
    const { traceId } = span.spanContext();
    const result = await client.submit('traced-answer', { q: ' why? ' }, { traceContext: traceContextOfSpan(span.spanContext())! });
    span.end();
    await provider.forceFlush();
    expect(result.status, result.error ?? '').toBe('completed');

    child.kill('SIGTERM'); // finishes what is in flight, flushes the SDK, exits
    expect(await exited, stderr).toBe(0);
    expect(stderr, 'the worker reported no telemetry problem').not.toMatch(/telemetry (error|warn)/i);

    const names = ['invoke_workflow traced-answer', 'node clean', 'node answer', 'chat default'];
    const stored = await jaegerQuery(jaeger.query, { attempts: 80, intervalMs: 250 })
      .getTrace(traceId, { until: (t) => t.spans.some((s) => s.name === 'submit') && names.every((n) => t.spans.some((s) => s.name === n && s.service === service)) });
    const trail = describeTrace(stored);
    const get = (name: string): StoredSpan => stored.spans.find((s) => s.name === name)!;
    expect(new Set(stored.spans.map((s) => s.service)), trail).toEqual(new Set(['llmo-it-cli-submitter', service]));
    const run = get('invoke_workflow traced-answer');
    expect(run.parentSpanId, trail).toBe(get('submit').spanId);
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
  });
});
