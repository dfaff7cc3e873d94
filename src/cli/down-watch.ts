/**
 * `llmo worker|evaluate --exit-on-down-ms`: a consumer whose health stays `down` longer than
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

/**
 * A long-lived command's life (`llmo worker`, `llmo evaluate`): it serves until SIGINT or SIGTERM, its
 * `signal` aborts, {@link Lifetime.stop} is called, or its health stays down for `exitOnDownMs` (0:
 * never). `stopped` resolves then, with why when the health was down (undefined for a requested stop).
 *
 * @example
 * ```ts
 * const life = untilStopped({ health: worker.health, exitOnDownMs: 60_000, signal, onDown: (r) => logger.error({ health: r }, 'down for good') });
 * const down = await life.stopped; // a message naming the down components, or undefined
 * ```
 */
export interface Lifetime {
  readonly stopped: Promise<string | undefined>;
  /** Stops it as a signal would. */
  stop(): void;
}

/**
 * Starts a {@link Lifetime}: listens for SIGINT, SIGTERM and `signal`, and watches `health`.
 *
 * @example
 * ```ts
 * const life = untilStopped({ health: transport.health, exitOnDownMs: opts.exitOnDownMs, onDown: () => undefined });
 * ```
 */
export function untilStopped(o: { readonly health: Health; readonly exitOnDownMs: number; readonly signal?: AbortSignal | undefined; readonly onDown: (report: HealthReport) => void }): Lifetime {
  let end!: (down: string | undefined) => void;
  const stopped = new Promise<string | undefined>((resolve) => (end = resolve));
  const stop = (down?: string): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    o.signal?.removeEventListener('abort', onSignal);
    unwatch();
    end(down);
  };
  const onSignal = (): void => stop();
  const unwatch = o.exitOnDownMs > 0
    ? watchDown(o.health, o.exitOnDownMs, (r) => {
      const why = Object.entries(r.components).filter(([, c]) => c.status === 'down').map(([n, c]) => `${n}${c.reason === undefined ? '' : ` (${c.reason})`}`).join(', ');
      o.onDown(r);
      stop(`health down for more than ${o.exitOnDownMs} ms: ${why}`);
    })
    : () => undefined;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  o.signal?.addEventListener('abort', onSignal);
  if (o.signal?.aborted === true) stop();
  return { stopped, stop: () => stop() };
}
