/**
 * Errors of running work: a node failed ({@link NodeError}), ran out of time, was cancelled
 * or stopped, ran out of retries, hit an open circuit breaker, or was refused by a full queue
 * or a shutting-down engine. Each has its type guard.
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

import { OrchestratorError, isOrchestratorError, retriableOf } from './base.ts';
import { B, has, mark } from './brand.ts';

/**
 * A node of a run failed. `cause` holds what the node threw; `retriable` is copied
 * from the cause when it says so.
 *
 * @example
 * ```ts
 * if (isNodeError(result.error)) console.log(`${result.error.nodeId} failed:`, result.error.cause);
 * ```
 */
export class NodeError extends OrchestratorError {
  readonly nodeId: string;
  constructor(nodeId: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(
      isOrchestratorError(cause) && cause.code !== 'NODE_FAILED' ? cause.code : 'NODE_FAILED',
      `node '${nodeId}' failed: ${msg}`,
      { cause, retriable: retriableOf(cause) },
    );
    this.nodeId = nodeId;
    mark(this, B.node);
  }
}

/**
 * A node or a run ran out of time. Retriable: a later attempt may be faster.
 *
 * @example
 * ```ts
 * if (isTimeoutError(e)) console.log(e.timeoutMs);
 * ```
 */
export class TimeoutError extends OrchestratorError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super('TIMEOUT', `${what} timed out after ${timeoutMs} ms`, { retriable: true });
    this.timeoutMs = timeoutMs;
    mark(this, B.timeout);
  }
}

/**
 * A run was cancelled: by its AbortSignal, by engine shutdown, or because another
 * node of the same run failed.
 *
 * @example
 * ```ts
 * controller.abort(); // the run resolves with status 'cancelled' and a CancelledError
 * ```
 */
export class CancelledError extends OrchestratorError {
  constructor(message = 'run cancelled', cause?: unknown) {
    super('CANCELLED', message, cause === undefined ? {} : { cause });
    mark(this, B.cancelled);
  }
}

/**
 * A streaming consumer stopped a producer's generation (`ctx.stop`). The llm
 * operator treats it as a normal end with `finishReason: 'stopped'`.
 *
 * @example
 * ```ts
 * if (isStoppedError(signal.reason)) keepPartialOutput();
 * ```
 */
export class StoppedError extends OrchestratorError {
  constructor(reason: string) {
    super('STOPPED', reason);
    mark(this, B.stopped);
  }
}

/**
 * Retries ran out. `attempts` says how many were made; `cause` is the last failure.
 *
 * @example
 * ```ts
 * if (isRetriesExhaustedError(e)) console.log(`${e.attempts} attempts, last:`, e.cause);
 * ```
 */
export class RetriesExhaustedError extends OrchestratorError {
  readonly attempts: number;
  constructor(what: string, attempts: number, last: unknown, why = 'attempts exhausted') {
    const msg = last instanceof Error ? last.message : String(last);
    super('RETRIES_EXHAUSTED', `${what}: gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} (${why}); last failure: ${msg}`, { cause: last, retriable: false });
    this.attempts = attempts;
    mark(this, B.retries);
  }
}

/**
 * A circuit breaker is open: calls to that model are refused at once until a
 * half-open probe succeeds. Retriable (later), and a reason to fall back now.
 *
 * @example
 * ```ts
 * if (isCircuitOpenError(e)) useFallbackModel();
 * ```
 */
export class CircuitOpenError extends OrchestratorError {
  readonly model: string;
  constructor(model: string, cause?: unknown) {
    super('CIRCUIT_OPEN', `circuit breaker for ${model} is open`, cause === undefined ? { retriable: true } : { retriable: true, cause });
    this.model = model;
    mark(this, B.circuit);
  }
}

/**
 * Work was refused because a bounded queue was full or the engine is shutting down.
 *
 * @example
 * ```ts
 * if (isRejectedError(e)) retryLater();
 * ```
 */
export class RejectedError extends OrchestratorError {
  constructor(code: 'QUEUE_FULL' | 'SHUTTING_DOWN' | 'LOOP_FAILED', message: string, options?: { readonly cause?: unknown }) {
    super(code, message, { retriable: code === 'QUEUE_FULL', ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    mark(this, B.rejected);
  }
}

/** True for {@link NodeError}. */
export function isNodeError(e: unknown): e is NodeError {
  return has(e, B.node);
}
/** True for {@link TimeoutError} (not for a NodeError whose cause is one: look at `cause`). */
export function isTimeoutError(e: unknown): e is TimeoutError {
  return has(e, B.timeout);
}
/** True for {@link CancelledError}. */
export function isCancelledError(e: unknown): e is CancelledError {
  return has(e, B.cancelled);
}
/** True for {@link StoppedError}. */
export function isStoppedError(e: unknown): e is StoppedError {
  return has(e, B.stopped);
}
/** True for {@link RetriesExhaustedError}. */
export function isRetriesExhaustedError(e: unknown): e is RetriesExhaustedError {
  return has(e, B.retries);
}
/** True for {@link CircuitOpenError}. */
export function isCircuitOpenError(e: unknown): e is CircuitOpenError {
  return has(e, B.circuit);
}
/** True for {@link RejectedError}. */
export function isRejectedError(e: unknown): e is RejectedError {
  return has(e, B.rejected);
}
