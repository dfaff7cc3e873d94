// The Jaeger query helpers against a stand-in query service (node:http on 127.0.0.1, canned answers in the
// shapes Jaeger 2.12 serves): OTLP JSON decoding, polling until the awaited spans are there, bounded reads.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTrace, jaegerEnv, jaegerQuery, spansOfOtlp, type OtlpSpan, type OtlpTraces } from './jaeger.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

const span = (spanId: string, name: string, extra: Partial<OtlpSpan> = {}): OtlpSpan => ({
  traceId: TRACE, spanId, name, kind: 1, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000500000000', ...extra,
});
const doc = (service: string, spans: OtlpSpan[]): OtlpTraces => ({
  resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ scope: { name: 'llm-orchestrator' }, spans }] }],
});

const full = doc('worker-a', [
  span('b7ad6b7169203331', 'invoke_workflow t', { startTimeUnixNano: '1700000000000000001' }),
  span('00f067aa0ba902b7', 'chat default', {
    parentSpanId: 'b7ad6b7169203331', kind: 3, startTimeUnixNano: '1700000000100000000',
    attributes: [
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '12' } },
      { key: 'gen_ai.response.finish_reasons', value: { arrayValue: { values: [{ stringValue: 'stop' }] } } },
      { key: 'gen_ai.request.temperature', value: { doubleValue: 0.5 } },
      { key: 'gen_ai.request.stream', value: { boolValue: true } },
    ],
    events: [{ name: 'retry', attributes: [{ key: 'llmo.attempt', value: { intValue: '2' } }] }],
    status: { code: 2, message: 'boom' },
  }),
]);

describe('jaegerEnv', () => {
  it('names the missing variables, and trims trailing slashes', () => {
    expect(jaegerEnv({})).toEqual({ ok: false, reason: expect.stringMatching(/LLMO_JAEGER_OTLP and LLMO_JAEGER_QUERY unset/) });
    expect(jaegerEnv({ LLMO_JAEGER_OTLP: 'http://h:4318' })).toEqual({ ok: false, reason: expect.stringMatching(/^LLMO_JAEGER_QUERY unset/) });
    expect(jaegerEnv({ LLMO_JAEGER_OTLP: 'http://h:4318/', LLMO_JAEGER_QUERY: ' http://h:16686/ ' })).toEqual({ ok: true, otlp: 'http://h:4318', query: 'http://h:16686' });
  });
});

describe('spansOfOtlp', () => {
  it('decodes OTLP JSON: service, parent, kind, typed attributes, events, status, start order', () => {
    const [run, chat] = spansOfOtlp(full);
    expect(run).toMatchObject({ name: 'invoke_workflow t', parentSpanId: undefined, kind: 'internal', service: 'worker-a', scope: 'llm-orchestrator', status: { code: 'unset' } });
    expect(chat).toMatchObject({
      name: 'chat default', parentSpanId: 'b7ad6b7169203331', kind: 'client',
      attributes: { 'gen_ai.usage.input_tokens': 12, 'gen_ai.response.finish_reasons': ['stop'], 'gen_ai.request.temperature': 0.5, 'gen_ai.request.stream': true },
      events: [{ name: 'retry', attributes: { 'llmo.attempt': 2 } }],
      status: { code: 'error', message: 'boom' },
    });
    expect(chat!.endNs - chat!.startNs).toBe(400_000_000n);
    expect(describeTrace({ traceId: TRACE, spans: [run!, chat!] })).toBe('worker-a: invoke_workflow t <- (root)\nworker-a: chat default <- invoke_workflow t');
  });
});

describe('jaegerQuery against a stand-in query service', () => {
  let server: Server;
  let base = '';
  const seen: string[] = [];
  /** Reads of the trace before each answer grows: 404, then the run span alone, then both spans. */
  let reads = 0;
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${url.pathname}${url.search}`);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === `/api/v3/traces/${TRACE}`) {
        reads++;
        if (reads === 1) return json(404, { error: { httpCode: 404, message: 'trace not found' } });
        return json(200, { result: reads === 2 ? doc('worker-a', [full.resourceSpans![0]!.scopeSpans![0]!.spans![0]!]) : full });
      }
      if (url.pathname.startsWith('/api/v3/traces/')) return json(404, { error: { httpCode: 404, message: 'trace not found' } });
      if (url.pathname === '/api/traces') return json(200, { data: url.searchParams.get('service') === 'worker-a' ? [{ traceID: TRACE }, { traceID: TRACE }] : [] });
      if (url.pathname === '/api/services') return json(200, { data: ['worker-a'] });
      return json(500, { error: 'unexpected' });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('getTrace polls until what the caller awaits is there', async () => {
    reads = 0;
    const t = await jaegerQuery(base, { intervalMs: 0 }).getTrace(TRACE, { until: (x) => x.spans.some((s) => s.name === 'chat default') });
    expect(reads).toBe(3);
    expect(t.spans.map((s) => s.name)).toEqual(['invoke_workflow t', 'chat default']);
  });

  it('getTrace gives up after the given number of reads, saying what it last saw', async () => {
    reads = 0;
    await expect(jaegerQuery(base).getTrace(TRACE, { attempts: 2, intervalMs: 0, until: () => false }))
      .rejects.toThrow(/not there after 2 reads[\s\S]*worker-a: invoke_workflow t <- \(root\)/);
    expect(reads).toBe(2);
    await expect(jaegerQuery(base).getTrace('f'.repeat(32), { attempts: 3, intervalMs: 0 })).rejects.toThrow(/not there after 3 reads[\s\S]*\(no trace\)/);
    await expect(jaegerQuery(base).getTrace('not-a-trace-id')).rejects.toThrow(/not a trace id/);
  });

  it('findTraces searches by service, tags and operation, then reads each trace once', async () => {
    reads = 2;
    seen.length = 0;
    const found = await jaegerQuery(base).findTraces({ service: 'worker-a', tags: { 'llmo.run_id': 'r-1', n: 3 }, operation: 'chat default', limit: 5, intervalMs: 0 });
    expect(found.map((t) => t.traceId)).toEqual([TRACE]);
    const search = new URL(seen[0]!, 'http://x').searchParams;
    expect(search.get('service')).toBe('worker-a');
    expect(JSON.parse(search.get('tags')!)).toEqual({ 'llmo.run_id': 'r-1', n: '3' });
    expect(search.get('operation')).toBe('chat default');
    expect(search.get('limit')).toBe('5');
    expect(seen.filter((p) => p.startsWith('/api/v3/')).length).toBe(1);
    await expect(jaegerQuery(base).findTraces({ service: 'nobody', attempts: 2, intervalMs: 0 })).rejects.toThrow(/not there after 2 reads[\s\S]*\(no traces\)/);
    expect(await jaegerQuery(base).services()).toEqual(['worker-a']);
  });
});
