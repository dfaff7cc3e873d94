/**
 * One trace across "processes" on the memory transport: a submitter's span, the run on worker A, its
 * remote node on worker B. Each side has its own tracer provider (own service name); the W3C context
 * travels only in message headers (run request, node task and result, token batches, run result).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { firstValueFrom, take, toArray } from 'rxjs';
import { z } from 'zod';
import { createEngine, topology } from '../src/index.ts';
import { createTelemetry, traceContextOfSpan } from '../src/observability/index.ts';
import { createMemoryTransport } from '../src/transports/memory.ts';
import { createClient, createRemoteExecutor, createRemoteWorker, createWorker } from '../src/worker/index.ts';

const pipeline = topology('traced-pipeline', { input: z.object({ q: z.string() }) })
  .map('clean', { run: ({ input }) => input.q.trim() })
  .map('edge', { after: ['clean'], remote: 'edge', run: ({ deps }) => deps.clean.toUpperCase() })
  .llm('answer', { after: ['edge'], model: 'sim:fast', prompt: ({ deps }) => `explain ${deps.edge}`, maxTokens: 16 })
  .build({ output: 'answer' });

const exporter = new InMemorySpanExporter();
const provider = (service: string) => new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  exporter.reset();
});

function deployment() {
  const transport = createMemoryTransport();
  const telA = createTelemetry({ tracer: provider('worker-a').getTracer('llmo'), metrics: false });
  const telB = createTelemetry({ tracer: provider('worker-b').getTracer('llmo'), metrics: false });
  const remote = createRemoteExecutor(transport, { telemetry: telA });
  const engineA = createEngine({ remote });
  const engineB = createEngine();
  const subs = [telA.attach(engineA), telB.attach(engineB)];
  const worker = createWorker({ engine: engineA, transport, topologies: [pipeline], telemetry: telA, inbound: false, lingerMs: 0 });
  const edge = createRemoteWorker({ engine: engineB, transport, group: 'edge', topologies: [pipeline] });
  const client = createClient(transport);
  cleanups.push(() => remote.close(), () => worker.stop(), () => edge.stop(), () => engineA.shutdown(), () => engineB.shutdown(), () => client.close(), () => subs.forEach((s) => s.unsubscribe()));
  return { transport, worker, edge, client };
}

const service = (s: ReadableSpan): unknown => s.resource.attributes['service.name'];
const find = (name: string, svc: string): ReadableSpan => {
  const s = exporter.getFinishedSpans().find((x) => x.name === name && service(x) === svc);
  if (s === undefined) throw new Error(`no span '${name}' of ${svc} in ${exporter.getFinishedSpans().map((x) => `${x.name}@${String(service(x))}`).join(', ')}`);
  return s;
};
const parent = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

describe('one trace across processes', () => {
  it('submit -> run on worker A -> remote node on worker B is one trace with the right parents; headers carry it', async () => {
    const { transport, worker, edge, client } = deployment();
    await worker.start();
    await edge.start();
    const submitter = provider('submitter').getTracer('app');
    const span = submitter.startSpan('submit');
    const result = await client.submit('traced-pipeline', { q: ' hi ' }, { traceContext: traceContextOfSpan(span.spanContext())! });
    span.end();
    await worker.stop();
    expect(result.status).toBe('completed');

    const spans = exporter.getFinishedSpans();
    const traceId = span.spanContext().traceId;
    expect(spans.filter((s) => s.spanContext().traceId !== traceId).map((s) => s.name)).toEqual([]);
    const run = find('invoke_workflow traced-pipeline', 'worker-a');
    expect(parent(run)).toBe(span.spanContext().spanId);
    const edgeNode = find('node edge', 'worker-a');
    expect(parent(edgeNode)).toBe(run.spanContext().spanId);
    // worker B's single-node run hangs under the origin's node span, its node span under that
    const remoteRun = find('invoke_workflow traced-pipeline', 'worker-b');
    expect(parent(remoteRun)).toBe(edgeNode.spanContext().spanId);
    expect(parent(find('node edge', 'worker-b'))).toBe(remoteRun.spanContext().spanId);
    const chat = find('chat fast', 'worker-a');
    expect(parent(chat)).toBe(find('node answer', 'worker-a').spanContext().spanId);
    expect(chat.attributes['gen_ai.usage.output_tokens']).toBe(result.usage.outputTokens);

    // the messages themselves carry the context
    const request = (await firstValueFrom(transport.read('request', { fromBeginning: true }).pipe(take(1), toArray())))[0]!;
    expect(request.headers?.['traceparent']).toContain(traceId);
    const task = (await firstValueFrom(transport.read('nodeTask', { fromBeginning: true }).pipe(take(1), toArray())))[0]!;
    expect(task.headers?.['traceparent']).toBe(`00-${traceId}-${edgeNode.spanContext().spanId}-01`);
    const answerNode = find('node answer', 'worker-a');
    const tokens = await firstValueFrom(transport.read('token', { fromBeginning: true }).pipe(take(1), toArray()));
    expect(tokens[0]!.headers?.['traceparent']).toBe(`00-${traceId}-${answerNode.spanContext().spanId}-01`);
    const answer = (await firstValueFrom(transport.read('result', { fromBeginning: true }).pipe(take(1), toArray())))[0]!;
    expect(answer.headers?.['traceparent']).toContain(traceId);
  });

  it('submit takes the active span\'s context when none is given', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    cleanups.push(() => { context.disable(); });
    const { worker, edge, client } = deployment();
    await worker.start();
    await edge.start();
    const submitter = provider('submitter').getTracer('app');
    const traceId = await submitter.startActiveSpan('submit', async (span) => {
      await client.submit('traced-pipeline', { q: 'x' });
      span.end();
      return span.spanContext().traceId;
    });
    await worker.stop();
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(find('invoke_workflow traced-pipeline', 'worker-a').spanContext().traceId).toBe(traceId);
  });

  it('refuses a malformed trace context on submit, naming the field', async () => {
    const { client } = deployment();
    await expect(client.submit('traced-pipeline', { q: 'x' }, { traceContext: { traceparent: 'bogus' } })).rejects.toThrow(/traceContext/);
  });
});
