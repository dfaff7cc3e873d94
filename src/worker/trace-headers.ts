/**
 * Trace context in message headers: what workers, clients and remote edges put on the messages
 * they send (run requests, node tasks and results, token batches, run results) so a run spread
 * over processes is one trace, and what they read back.
 * @module
 */
import type { TraceContext } from '../runtime/trace-context.ts';

/**
 * Where a worker finds the trace context of a run (or of one of its nodes) in flight here: the
 * `Telemetry` attached to its engine (`llm-orchestrator/otel`), or anything with the same method.
 *
 * @example
 * ```ts
 * const telemetry = createTelemetry();
 * telemetry.attach(engine);
 * createWorker({ engine, transport, topologies: [rag], telemetry });
 * ```
 */
export interface TraceSource {
  traceContext(runId: string, nodeId?: string): TraceContext | undefined;
}

/** True for a {@link TraceSource}. */
export const isTraceSource = (v: unknown): v is TraceSource => typeof (v as TraceSource | null)?.traceContext === 'function';

/**
 * The `traceparent`/`tracestate` headers of a trace context (undefined for none).
 *
 * @example
 * ```ts
 * await transport.send('nodeTask', [{ key, value, headers: traceHeaders(telemetry.traceContext(runId, nodeId)) }]);
 * ```
 */
export function traceHeaders(tc: TraceContext | undefined): Readonly<Record<string, string>> | undefined {
  if (tc === undefined) return undefined;
  return tc.tracestate === undefined ? { traceparent: tc.traceparent } : { traceparent: tc.traceparent, tracestate: tc.tracestate };
}
