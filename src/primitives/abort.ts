/**
 * The one abort-wiring helper: listen to a signal for as long as some work
 * lasts, and undo the listener when it ends. Built on Node's
 * `events.addAbortListener` (which also runs the listener when the signal is
 * already aborted, and cannot be stopped by `stopImmediatePropagation`).
 * @module
 */
import { addAbortListener } from 'node:events';

/**
 * Undoes what {@link onAbort} set up. Idempotent.
 *
 * @example
 * ```ts
 * const unlisten: Unlisten = onAbort(signal, () => ctl.abort());
 * unlisten(); // the work ended first
 * ```
 */
export type Unlisten = () => void;

const NOTHING: Unlisten = () => undefined;

/**
 * Calls `fn` once when `signal` aborts (at once, on the next tick, if it already has);
 * returns a function that removes the listener. No signal: nothing to undo.
 *
 * @example
 * ```ts
 * const unlisten = onAbort(signal, () => controller.abort(signal.reason));
 * try { await work(); } finally { unlisten(); }
 * ```
 */
export function onAbort(signal: AbortSignal | undefined, fn: (reason: unknown) => void): Unlisten {
  if (signal === undefined) return NOTHING;
  const d = addAbortListener(signal, () => fn(signal.reason));
  return () => d[Symbol.dispose]();
}

/**
 * The reason of an aborted signal as something throwable: the reason itself when
 * it is an Error, else `fallback()`.
 *
 * @example
 * ```ts
 * if (signal.aborted) throw abortReason(signal, () => new CancelledError('aborted'));
 * ```
 */
export function abortReason(signal: AbortSignal, fallback: () => Error): unknown {
  const r: unknown = signal.reason;
  return r === undefined ? fallback() : r;
}
