import { describe, expect, it } from 'vitest';
import type { Span, SpanOptions, Tracer, Context } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import { createEngine, topology } from '../index.ts';
import { traceEvents } from './tracing.ts';

interface Recorded { name: string; parent: string | undefined; attributes: Record<string, unknown>; status?: { code: number; message?: string }; ended: boolean; events: string[] }

/** A tracer that records spans (the API's no-op spans carry no data). */
function recordingTracer(): { tracer: Tracer; spans: Recorded[] } {
  const spans: Recorded[] = [];
  const tracer = {
    startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
      const parentSpan = ctx === undefined ? undefined : trace.getSpan(ctx) as (Span & { rec?: Recorded }) | undefined;
      const rec: Recorded = { name, parent: parentSpan?.rec?.name, attributes: { ...options.attributes }, ended: false, events: [] };
      spans.push(rec);
      const span = {
        rec,
        spanContext: () => ({ traceId: '0'.repeat(32), spanId: String(spans.length).padStart(16, '0'), traceFlags: 1 }),
        setAttribute(k: string, v: unknown) { rec.attributes[k] = v; return span; },
        setAttributes(a: Record<string, unknown>) { Object.assign(rec.attributes, a); return span; },
        addEvent(n: string) { rec.events.push(n); return span; },
        setStatus(s: { code: number; message?: string }) { rec.status = s; return span; },
        end() { rec.ended = true; },
        isRecording: () => true, recordException() {}, updateName() { return span; }, addLink() { return span; }, addLinks() { return span; },
      };
      return span as unknown as Span;
    },
    startActiveSpan() { throw new Error('not used'); },
  };
  return { tracer: tracer as unknown as Tracer, spans };
}

describe('traceEvents', () => {
  it('makes a span per run and a child span per node, ending them with their status', async () => {
    const { tracer, spans } = recordingTracer();
    const engine = createEngine();
    const sub = traceEvents(engine.events$, tracer);
    const t = topology('traced')
      .map('a', { run: () => 1 })
      .map('b', { after: ['a'], run: () => { throw new Error('nope'); } })
      .build();
    const r = await engine.run(t, {});
    sub.unsubscribe();
    expect(r.status).toBe('failed');
    expect(spans.map((s) => [s.name, s.parent])).toEqual([['run traced', undefined], ['node a', 'run traced'], ['node b', 'run traced']]);
    expect(spans.every((s) => s.ended)).toBe(true);
    expect(spans[2]!.status?.message).toContain('nope');
    expect(spans[0]!.status?.code).toBe(2);
  });
});
