/**
 * The logging seam: the subset of pino's API the library calls, so any pino
 * logger (or a compatible one) can be passed in, and the core loads no logging
 * library. Without a logger, everything goes to {@link silentLogger}.
 * @module
 */

/** One log method: `(object, message)` or `(message)`, as pino's. */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

/**
 * What the library needs of a logger. A pino logger satisfies it.
 *
 * @example
 * ```ts
 * import { pino } from 'pino';
 * const engine = createEngine({ logger: pino({ level: 'info' }) });
 * ```
 */
export interface Logger {
  /** A logger that adds `bindings` to every line (pino's `child`). */
  child(bindings: Record<string, unknown>): Logger;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

const noop = (): void => undefined;

/**
 * The one silent logger: every method does nothing, `child` returns itself.
 *
 * @example
 * ```ts
 * const log = (options.logger ?? silentLogger).child({ component: 'worker' });
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  child: () => silentLogger,
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
});

/** True for anything usable as a {@link Logger}. */
export function isLogger(v: unknown): v is Logger {
  if (typeof v !== 'object' || v === null) return false;
  const l = v as Record<string, unknown>;
  return ['child', 'error', 'warn', 'info', 'debug'].every((k) => typeof l[k] === 'function');
}
