/**
 * The error of waits for a person or an event: {@link WaitError} and its codes (a wait timed
 * out, a signal named a run or wait that is not waiting, a run is parked).
 *
 * @example
 * ```ts
 * if (isWaitError(e) && e.code === 'WAIT_TIMEOUT') escalate();
 * ```
 * @module
 */

import { OrchestratorError, type OrchestratorErrorOptions } from './base.ts';
import { B, has, mark } from './brand.ts';

/**
 * Codes of {@link WaitError}.
 *
 * @example
 * ```ts
 * const code: WaitErrorCode = 'WAIT_TIMEOUT';
 * ```
 */
export type WaitErrorCode =
  | 'WAIT_TIMEOUT' // a wait node's timeoutMs passed before its signal arrived
  | 'RUN_NOT_WAITING' // engine.signal named a run that is not parked on a wait (unknown in memory, running or ended)
  | 'WAIT_NAME_MISMATCH' // engine.signal named another wait than the one the run is parked on
  | 'RUN_PARKED'; // the `error` of a waiting result: the run is parked on a wait, not done

/**
 * A wait for a person or an event went wrong: it timed out (the wait node fails with it,
 * or its `onError` edge takes over), or a signal named a run or wait that is not waiting.
 *
 * @example
 * ```ts
 * if (isWaitError(e) && e.code === 'RUN_NOT_WAITING') console.error('already approved?');
 * ```
 */
export class WaitError extends OrchestratorError {
  declare readonly code: WaitErrorCode;
  constructor(code: WaitErrorCode, message: string, options: OrchestratorErrorOptions = {}) {
    super(code, message, options);
    mark(this, B.wait);
  }
}

/** True for {@link WaitError}. */
export function isWaitError(e: unknown): e is WaitError {
  return has(e, B.wait);
}
