/**
 * Alerts as one line a person reads (what the `llmo` CLI prints).
 * @module
 */
import type { AlertEvent, SloRule } from './alerts.ts';

/** `90s`, `5m`, `1h`, `250ms`. */
function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A rule's value in its unit. */
function measure(kind: SloRule['kind'], v: number): string {
  switch (kind) {
    case 'failure-rate': return `${(v * 100).toFixed(1)}%`;
    case 'p99-latency': return `${Math.round(v)}ms`;
    case 'cost-rate': return `$${v.toFixed(4)}/min`;
  }
}

/**
 * One line for a person: state, rule, value against threshold, window, filters and time.
 *
 * @example
 * ```ts
 * formatAlert(a); // 'FIRING rag-failures: failure-rate 12.5% > 5.0% over 5m (topology=rag, 40 samples) since 2026-12-03T11:40:00.000Z'
 * ```
 */
export function formatAlert(a: AlertEvent): string {
  const few = a.state === 'resolved' && a.value > a.threshold ? ', too few samples' : '';
  const what = a.kind === 'p99-latency' ? `p99 ${a.scope} latency` : a.kind;
  const filters = [
    ...(a.topology === undefined ? [] : [`topology=${a.topology}`]),
    ...(a.model === undefined ? [] : [`model=${a.model}`]),
    ...(a.tenant === undefined ? [] : [`tenant=${a.tenant}`]),
    `${a.samples} samples${few}`,
  ].join(', ');
  const cmp = a.value > a.threshold ? '>' : '<=';
  const when = a.state === 'firing' ? `since ${new Date(a.since).toISOString()}` : `at ${new Date(a.ts).toISOString()}`;
  return `${a.state === 'firing' ? 'FIRING' : 'RESOLVED'} ${a.rule}: ${what} ${measure(a.kind, a.value)} ${cmp} ${measure(a.kind, a.threshold)} over ${duration(a.windowMs)} (${filters}) ${when}`;
}
