/**
 * The error of a run `engine.cancel` cancelled, wherever that happens (in this engine, when a
 * parked or abandoned run is relaunched to end, or in the process that holds it).
 * @module
 */
import { CancelledError } from '../errors.ts';

/**
 * The error a run cancelled by `engine.cancel` ends with.
 *
 * @example
 * ```ts
 * cancelledBy('the customer withdrew').message; // 'run cancelled: the customer withdrew'
 * ```
 */
export function cancelledBy(reason: string | undefined): CancelledError {
  return new CancelledError(reason === undefined ? 'run cancelled (engine.cancel)' : `run cancelled: ${reason}`);
}
