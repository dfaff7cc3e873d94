/**
 * The W3C trace context a run continues (`traceparent`, `tracestate`), as plain strings: the
 * runtime carries it (on the run, in its `run.started` event, across recovery) and never
 * interprets it; telemetry (`llm-orchestrator/otel`) makes the run's span a child of it.
 * @module
 */
import * as z from 'zod';

/** `version-traceid-parentid-flags`, lower-case hex; version `ff` and all-zero ids are invalid (W3C Trace Context). */
const TRACEPARENT = /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/;

/**
 * Schema of {@link TraceContext}: a valid `traceparent`, and `tracestate` of at most 512 characters.
 *
 * @example
 * ```ts
 * TraceContextSchema.parse({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
 * ```
 */
export const TraceContextSchema = z.strictObject({
  traceparent: z.string().regex(TRACEPARENT, 'not a W3C traceparent (version-traceid-parentid-flags)'),
  tracestate: z.string().max(512).optional(),
});

/**
 * A W3C trace context: what the `traceparent` and `tracestate` headers carry.
 *
 * @example
 * ```ts
 * await engine.run(t, input, { traceContext: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
 * ```
 */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/**
 * The trace context among message headers (`traceparent`, `tracestate`), when a valid one is there.
 *
 * @example
 * ```ts
 * const traceContext = traceContextOf(envelope.headers); // undefined without a (valid) traceparent
 * ```
 */
export function traceContextOf(headers: Readonly<Record<string, string | undefined>> | undefined): TraceContext | undefined {
  const traceparent = headers?.['traceparent'];
  if (traceparent === undefined || !TRACEPARENT.test(traceparent)) return undefined;
  const tracestate = headers?.['tracestate'];
  return tracestate === undefined || tracestate.length > 512 ? { traceparent } : { traceparent, tracestate };
}

/**
 * A trace context without an undefined `tracestate` key (what parsed options and stored events give).
 *
 * @example
 * ```ts
 * run.traceContext = exactTraceContext(opts.traceContext);
 * ```
 */
export function exactTraceContext(t: { readonly traceparent: string; readonly tracestate?: string | undefined }): TraceContext {
  return t.tracestate === undefined ? { traceparent: t.traceparent } : { traceparent: t.traceparent, tracestate: t.tracestate };
}
