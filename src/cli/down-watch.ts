/**
 * `llmo worker --exit-on-down-ms`: a worker whose health stays `down` longer than
 * a grace period is of no use running; this watch says so once, so the command can
 * stop it and exit non-zero (and the orchestrator restart it). A short red spell
 * (a consumer restarting) that ends within the grace period is forgotten.
 * @module
 */
import type { Health, HealthReport } from '../transports/health.ts';

/**
 * Calls `onDown` once when `health` has been `down` for `graceMs` without a break; returns the unwatch.
 *
 * @example
 * ```ts
 * const unwatch = watchDown(worker.health, 30_000, (r) => stop(`down: ${JSON.stringify(r.components)}`));
 * ```
 */
export function watchDown(health: Health, graceMs: number, onDown: (report: HealthReport) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let fired = false;
  const sub = health.changes$.subscribe((r) => {
    if (r.status !== 'down') {
      clearTimeout(timer);
      timer = undefined;
    } else if (timer === undefined && !fired) {
      timer = setTimeout(() => {
        fired = true;
        onDown(health.report());
      }, graceMs);
    }
  });
  return () => {
    clearTimeout(timer);
    sub.unsubscribe();
  };
}
