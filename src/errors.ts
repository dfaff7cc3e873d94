/**
 * One error hierarchy for the whole engine. Every error carries a stable `code`,
 * a `retriable` flag and an optional `cause`, and has a type guard, so callers
 * branch on data instead of `instanceof` chains across package copies.
 *
 * The hierarchy lives in `errors/`, one concept a file: `base.ts` (Issue, OrchestratorError,
 * validation errors, serialization helpers), `run.ts` (node, timeout, cancel, stop, retry,
 * circuit and rejected errors), `provider.ts`, `store.ts`, `wait.ts` and `policy.ts`.
 * This module re-exports all of it, so importers keep importing from here.
 *
 * @example
 * ```ts
 * const result = await engine.run(topology, input);
 * if (result.status === 'failed' && isNodeError(result.error)) {
 *   console.log(result.error.nodeId, result.error.retriable);
 * }
 * ```
 * @module
 */

export type { Issue, OrchestratorErrorOptions, SerializedError } from './errors/base.ts';
export {
  OrchestratorError,
  ValidationError,
  TopologyError,
  isOrchestratorError,
  isValidationError,
  isTopologyError,
  retriableOf,
  toIssues,
  formatIssues,
  serializeError,
} from './errors/base.ts';

export {
  NodeError,
  TimeoutError,
  CancelledError,
  StoppedError,
  RetriesExhaustedError,
  CircuitOpenError,
  RejectedError,
  isNodeError,
  isTimeoutError,
  isCancelledError,
  isStoppedError,
  isRetriesExhaustedError,
  isCircuitOpenError,
  isRejectedError,
} from './errors/run.ts';

export type { ProviderErrorDetails } from './errors/provider.ts';
export { ProviderError, isProviderError } from './errors/provider.ts';

export type { StoreErrorCode } from './errors/store.ts';
export { StoreError, isStoreError } from './errors/store.ts';

export type { WaitErrorCode } from './errors/wait.ts';
export { WaitError, isWaitError } from './errors/wait.ts';

export type { PolicyErrorCode, PolicyErrorOptions } from './errors/policy.ts';
export { PolicyError, isPolicyError } from './errors/policy.ts';
