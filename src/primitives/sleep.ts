/**
 * An abortable sleep on the global `setTimeout`. Not `timers/promises`: vitest's
 * fake timers do not patch it (virtual-time tests would hang), and it rejects
 * with an AbortError wrapping the reason instead of the reason itself.
 * @module
 */
import { onAbort } from './abort.ts';

/**
 * Resolves after `ms`; rejects with `signal.reason` as soon as `signal` aborts
 * (at once when it already has), and leaves no timer or listener behind.
 *
 * @example
 * ```ts
 * await sleep(backoffMs, signal);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      unlisten();
      resolve();
    }, ms);
    const unlisten = onAbort(signal, (reason) => {
      clearTimeout(timer);
      reject(reason);
    });
  });
}
