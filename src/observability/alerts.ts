/**
 * SLO rules evaluated over engine events, emitting alert events (stub: the metrics helper replaces this file).
 * @module
 */
import { Subject, type Observable } from 'rxjs';
import type { EventSink } from './sink.ts';

/**
 * One SLO rule (stub).
 *
 * @example
 * ```ts
 * const rule: SloRule = { name: 'failures', kind: 'failure-rate', threshold: 0.05, windowMs: 60_000 };
 * ```
 */
export interface SloRule {
  readonly name: string;
  readonly kind: 'failure-rate' | 'p99-latency' | 'cost-rate';
  readonly threshold: number;
  readonly windowMs: number;
}

/**
 * An alert raised or resolved by a rule (stub).
 *
 * @example
 * ```ts
 * alerts$.subscribe((a: AlertEvent) => console.log(a.rule, a.state));
 * ```
 */
export interface AlertEvent {
  readonly type: 'alert';
  readonly rule: string;
  readonly state: 'firing' | 'resolved';
  readonly value: number;
  readonly threshold: number;
  readonly ts: number;
}

/**
 * Evaluates SLO rules over engine events.
 *
 * @example
 * ```ts
 * const alerts = createAlerts({ rules: [{ name: 'failures', kind: 'failure-rate', threshold: 0.05, windowMs: 60_000 }] });
 * alerts.alerts$.subscribe(console.log);
 * ```
 */
export function createAlerts(options: { readonly rules: readonly SloRule[]; readonly now?: () => number }): EventSink & { readonly alerts$: Observable<AlertEvent> } {
  void options;
  return { observe: () => undefined, alerts$: new Subject<AlertEvent>() };
}
