/**
 * `llm-orchestrator/otel`: OpenTelemetry spans from an engine's events. Needs
 * `@opentelemetry/api` (a peer dependency); the application picks the SDK.
 *
 * @example
 * ```ts
 * import { traceEvents } from 'llm-orchestrator/otel';
 * traceEvents(engine.events$, trace.getTracer('llm-orchestrator'));
 * ```
 * @module
 */
export { traceEvents } from './tracing.ts';
