/**
 * OpenTelemetry spans from the event bus: one span per run, one child span per
 * node, with status, errors, retries, fallbacks and token usage as attributes.
 * It uses only @opentelemetry/api: the application picks the SDK and exporter
 * (e.g. OTLP to the Jaeger of docker-compose.yml) and passes its tracer.
 * @module
 */
import { context, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { Observable, Subscription } from 'rxjs';
import type { EngineEvent } from '../runtime/events.ts';

/**
 * Starts turning lifecycle events into spans. Unsubscribe to stop.
 *
 * @example
 * ```ts
 * const sub = traceEvents(engine.events$, trace.getTracer('llm-orchestrator'));
 * ```
 */
export function traceEvents(events$: Observable<EngineEvent>, tracer: Tracer): Subscription {
  const runs = new Map<string, Span>();
  const nodes = new Map<string, Span>();
  const tokens = new Map<string, number>();
  return events$.subscribe((e) => {
    switch (e.type) {
      case 'run.started': {
        const parent = e.parentRunId === undefined ? undefined : runs.get(e.parentRunId);
        const ctx = parent === undefined ? context.active() : trace.setSpan(context.active(), parent);
        runs.set(e.runId, tracer.startSpan(`run ${e.topology}`, { startTime: e.ts, attributes: { 'llmo.run_id': e.runId, 'llmo.topology': e.topology, 'llmo.priority': e.priority } }, ctx));
        break;
      }
      case 'node.started': {
        const run = runs.get(e.runId);
        const ctx = run === undefined ? context.active() : trace.setSpan(context.active(), run);
        nodes.set(`${e.runId}/${e.nodeId}`, tracer.startSpan(`node ${e.nodeId}`, { startTime: e.ts, attributes: { 'llmo.run_id': e.runId, 'llmo.node_id': e.nodeId } }, ctx));
        break;
      }
      case 'node.token': {
        const key = `${e.runId}/${e.nodeId}`;
        tokens.set(key, (tokens.get(key) ?? 0) + 1);
        break;
      }
      case 'node.retry':
        nodes.get(`${e.runId}/${e.nodeId}`)?.addEvent('retry', { attempt: e.attempt, 'delay_ms': e.delayMs, error: e.error.message, ...(e.model ? { model: e.model } : {}) }, e.ts);
        break;
      case 'node.fallback':
        nodes.get(`${e.runId}/${e.nodeId}`)?.addEvent('fallback', { from: e.from, to: e.to, reason: e.reason.message }, e.ts);
        break;
      case 'node.completed':
      case 'node.failed':
      case 'node.cancelled': {
        const key = `${e.runId}/${e.nodeId}`;
        const span = nodes.get(key);
        if (span === undefined) break;
        const streamed = tokens.get(key);
        if (streamed !== undefined) span.setAttribute('llmo.tokens_streamed', streamed);
        if (e.type === 'node.failed') {
          span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
          span.setAttribute('llmo.error_code', e.error.code);
        } else if (e.type === 'node.cancelled') {
          span.setAttribute('llmo.cancelled', true);
          span.setAttribute('llmo.error_code', e.error.code);
        }
        span.end(e.ts);
        nodes.delete(key);
        tokens.delete(key);
        break;
      }
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled': {
        const span = runs.get(e.runId);
        if (span === undefined) break;
        if (e.usage !== undefined) {
          span.setAttributes({
            'llmo.usage.input_tokens': e.usage.inputTokens, 'llmo.usage.output_tokens': e.usage.outputTokens,
            'llmo.usage.cost_usd': e.usage.costUsd, 'llmo.usage.calls': e.usage.calls,
          });
        }
        if (e.type !== 'run.completed') span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
        span.end(e.ts);
        runs.delete(e.runId);
        for (const [key, s] of nodes) {
          if (key.startsWith(`${e.runId}/`)) {
            s.end(e.ts);
            nodes.delete(key);
          }
        }
        break;
      }
      default:
        break;
    }
  });
}
