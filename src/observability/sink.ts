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
  /** Takes one event; must not throw (a sink's bug must not break the others). */
  observe(e: EngineEvent): void;
  /** Ends what the sink holds open (spans, timers). */
  close?(): void;
}
