/**
 * `llm-orchestrator/otel`: OpenTelemetry traces (GenAI conventions), metrics and SLO alerts
 * from an engine's events. Needs only `@opentelemetry/api`; the application picks the SDK
 * (the `llmo` CLI sets one up from the `OTEL_*` variables).
 *
 * @example
 * ```ts
 * import { createTelemetry } from 'llm-orchestrator/otel';
 * const telemetry = createTelemetry();
 * telemetry.attach(engine);
 * ```
 * @module
 */
export { createTelemetry, TelemetryOptionsSchema, INSTRUMENTATION_SCOPE, type Telemetry, type TelemetryOptions } from './telemetry.ts';
export { createTracing, traceEvents, type Tracing, type TracingOptions, type CaptureOptions } from './tracing.ts';
export { createMetrics, type MetricsOptions } from './metrics.ts';
export { createAlerts, type AlertEvent, type SloRule } from './alerts.ts';
export type { EventSink } from './sink.ts';
export { activeTraceContext, contextOfTrace, traceContextOfSpan } from './w3c.ts';
