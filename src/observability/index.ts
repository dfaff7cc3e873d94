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
export { createTelemetry, TelemetryOptionsSchema, INSTRUMENTATION_SCOPE, type Telemetry, type TelemetryOptions, type TelemetrySource } from './telemetry.ts';
export { createTracing, traceEvents, type Tracing, type TracingOptions, type CaptureOptions } from './tracing.ts';
export { createMetrics, MetricsOptionsSchema, type MetricsOptions } from './metrics.ts';
export {
  CALL_SECONDS_BUCKETS, LLMO_ATTR, METRIC_LLMO_ADMISSION_WAIT, METRIC_LLMO_BREAKER_STATE, METRIC_LLMO_COST, METRIC_LLMO_FALLBACKS, METRIC_LLMO_NODE_DURATION, METRIC_LLMO_RETRIES,
  METRIC_LLMO_RUN_DURATION, METRIC_LLMO_RUNS_ENDED, METRIC_LLMO_RUNS_IN_FLIGHT, METRIC_LLMO_RUNS_QUEUED, METRIC_LLMO_RUNS_STARTED, METRIC_LLMO_TOKENS,
  METRIC_LLMO_STREAM_DROPPED, METRIC_LLMO_STREAMS_OPEN, OTHER_VALUE, RUN_SECONDS_BUCKETS, TOKEN_BUCKETS,
} from './metric-names.ts';
export { createAlerts, AlertsOptionsSchema, type Alerts, type AlertsOptions, type AlertEvent, type SloRule } from './alerts.ts';
export { formatAlert } from './alerts-format.ts';
export { parseSloRules, validateSloRules, SloRuleSchema, SloRulesSchema } from './slo-rules.ts';
export type { EventSink } from './sink.ts';
export { activeTraceContext, contextOfTrace, traceContextOfSpan } from './w3c.ts';
