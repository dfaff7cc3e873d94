/**
 * What each part of telemetry (traces, metrics, alerts) is: a sink fed every engine event by
 * one subscription (`createTelemetry`), synchronously, in bus order.
 * @module
 */
import type { EngineEvent } from '../runtime/events.ts';

/**
 * A consumer of engine events.
 *
 * @example
 * ```ts
 * const count: EventSink = { observe: (e) => { if (e.type === 'run.failed') failures++; } };
 * ```
 */
export interface EventSink {
  /** What the sink is (`traces`, `metrics`, `alerts`), for the telemetry errors it causes. */
  readonly name?: string;
  /** Takes one event. A sink that throws is caught (the others still get the event) and reported on `telemetry.errors$`. */
  observe(e: EngineEvent): void;
  /** Ends what the sink holds open (spans, timers). */
  close?(): void;
}
