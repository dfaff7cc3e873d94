/**
 * W3C trace context to and from OpenTelemetry span contexts, without a registered propagator:
 * a run's `traceContext` parents its span whatever SDK (or none) the application set up.
 * @module
 */
import { createTraceState, isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';
import { traceContextOf, type TraceContext } from '../runtime/trace-context.ts';

/**
 * The W3C trace context of a span context (`00-traceid-spanid-flags`), or undefined for an invalid one.
 *
 * @example
 * ```ts
 * const tc = traceContextOfSpan(span.spanContext()); // { traceparent: '00-…-…-01' }
 * ```
 */
export function traceContextOfSpan(sc: SpanContext): TraceContext | undefined {
  if (!isSpanContextValid(sc)) return undefined;
  const traceparent = `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  const state = sc.traceState?.serialize();
  return state === undefined || state === '' ? { traceparent } : { traceparent, tracestate: state };
}

/**
 * A context whose parent is the remote span a W3C trace context names (ROOT_CONTEXT's child),
 * or undefined when it is malformed.
 *
 * @example
 * ```ts
 * const parent = contextOfTrace({ traceparent }) ?? context.active();
 * tracer.startSpan('work', {}, parent);
 * ```
 */
export function contextOfTrace(tc: TraceContext): Context | undefined {
  const valid = traceContextOf(tc as unknown as Record<string, string>);
  if (valid === undefined) return undefined;
  const [, traceId, spanId, flags] = valid.traceparent.split('-') as [string, string, string, string];
  const sc: SpanContext = {
    traceId, spanId, isRemote: true,
    traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED,
    ...(valid.tracestate === undefined ? {} : { traceState: createTraceState(valid.tracestate) }),
  };
  return trace.setSpanContext(ROOT_CONTEXT, sc);
}

/**
 * The W3C trace context of the span active here (e.g. a CLI's or an HTTP handler's), if any.
 *
 * @example
 * ```ts
 * await client.submit(t, input, { traceContext: activeTraceContext() });
 * ```
 */
export function activeTraceContext(): TraceContext | undefined {
  const span = trace.getActiveSpan();
  return span === undefined ? undefined : traceContextOfSpan(span.spanContext());
}
