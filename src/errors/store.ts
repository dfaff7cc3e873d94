/**
 * The error of a run store: {@link StoreError} and its codes (unreachable server, damaged
 * or too-new file, full disk, taken run id, lost lease, ...).
 *
 * @example
 * ```ts
 * if (isStoreError(e) && e.retriable) await retryLater();
 * ```
 * @module
 */

import { OrchestratorError, type OrchestratorErrorOptions } from './base.ts';
import { B, has, mark } from './brand.ts';

/**
 * Codes of {@link StoreError}: what went wrong with a run store.
 *
 * @example
 * ```ts
 * const code: StoreErrorCode = 'STORE_UNAVAILABLE';
 * ```
 */
export type StoreErrorCode =
  | 'STORE_UNAVAILABLE' // the server cannot be reached or went away (retriable)
  | 'STORE_CORRUPT' // the file is not a store, or is damaged or truncated
  | 'STORE_TOO_NEW' // written by a newer schema version than this build knows
  | 'STORE_FULL' // the disk (or quota) is full
  | 'STORE_CLOSED' // used after close()
  | 'STORE_INVALID' // a bad store URL, option or argument (a cursor no page returned, a value the database cannot hold)
  | 'STORE_FAILED' // any other failure of the database
  | 'RUN_EXISTS' // createRun with a taken id
  | 'RUN_NOT_FOUND' // append or a query named an unknown run
  | 'SEQ_CONFLICT' // an event's seq is already taken (two writers on one run)
  | 'LEASE_LOST' // another process took the lease of a run this process was running
  | 'RUN_NOT_CANCELLABLE' // engine.cancel named a run that has ended, or runs in another live process
  | 'TOPOLOGY_CHANGED'; // a stored run's topology version is not registered with the engine

/**
 * A run store failed. `retriable` when trying again may succeed (a server that went away);
 * `cause` holds the driver's own error.
 *
 * @example
 * ```ts
 * if (isStoreError(e) && e.code === 'STORE_TOO_NEW') console.error('upgrade llmo to read this store');
 * ```
 */
export class StoreError extends OrchestratorError {
  declare readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options: OrchestratorErrorOptions = {}) {
    super(code, message, { retriable: options.retriable ?? code === 'STORE_UNAVAILABLE', cause: options.cause });
    mark(this, B.store);
  }
}

/** True for {@link StoreError}. */
export function isStoreError(e: unknown): e is StoreError {
  return has(e, B.store);
}
