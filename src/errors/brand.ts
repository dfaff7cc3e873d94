/**
 * Brands of the error hierarchy (internal): the marker every engine error carries and one
 * brand per error class, so the type guards work across copies of the package without
 * `instanceof`. Not part of the public API: `src/errors.ts` does not re-export this module.
 *
 * @example
 * ```ts
 * mark(this, B.store); // in a constructor
 * has(e, B.store); // in the guard
 * ```
 * @module
 */

/** Carried by every engine error (see `isOrchestratorError`). */
export const MARKER = Symbol.for('llm-orchestrator.error');

/**
 * One brand per error class, registered globally (`Symbol.for`) so type guards work across
 * copies of the package. A subclass carries its own brand and its parents': a guard never
 * looks at `code` (a NodeError wrapping a timeout has code `TIMEOUT` but is no TimeoutError).
 */
const brand = (name: string): symbol => Symbol.for(`llm-orchestrator.${name}`);
export const B = {
  validation: brand('ValidationError'),
  topology: brand('TopologyError'),
  node: brand('NodeError'),
  timeout: brand('TimeoutError'),
  cancelled: brand('CancelledError'),
  stopped: brand('StoppedError'),
  retries: brand('RetriesExhaustedError'),
  circuit: brand('CircuitOpenError'),
  rejected: brand('RejectedError'),
  provider: brand('ProviderError'),
  store: brand('StoreError'),
  wait: brand('WaitError'),
  policy: brand('PolicyError'),
} as const;

/** Sets brand `b` on error `e` (non-enumerable, so it stays out of JSON and logs). */
export function mark(e: object, b: symbol): void {
  Object.defineProperty(e, b, { value: true, enumerable: false });
}

/** Whether `e` is an object carrying brand `b`. */
export function has(e: unknown, b: symbol): boolean {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[b] === true;
}
