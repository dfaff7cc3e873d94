/**
 * OpenTelemetry metrics from engine events (stub: the metrics helper replaces this file).
 * @module
 */
import type { Meter } from '@opentelemetry/api';
import type { EventSink } from './sink.ts';

/**
 * Options of {@link createMetrics}.
 *
 * @example
 * ```ts
 * const options: MetricsOptions = { meter: metrics.getMeter('llm-orchestrator') };
 * ```
 */
export interface MetricsOptions {
  readonly meter: Meter;
  /** Reads the engine's load for the gauges (runs in flight, waiting for admission). */
  readonly load?: () => { readonly running: number; readonly queued: number };
}

/**
 * Records engine events as OpenTelemetry metrics.
 *
 * @example
 * ```ts
 * const sink = createMetrics({ meter: metrics.getMeter('llm-orchestrator') });
 * ```
 */
export function createMetrics(options: MetricsOptions): EventSink {
  void options;
  return { observe: () => undefined };
}
