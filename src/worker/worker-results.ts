/**
 * Result messages of a worker: what answers a run request (its run's result,
 * or a failed result saying why nothing ran) and how the answer is published.
 * A result too large for the transport is replaced by a failed `RESULT_TOO_LARGE`
 * result, and the request is dead-lettered with that reason (running it again
 * would make the same result).
 * @module
 */
import { isOrchestratorError, OrchestratorError, serializeError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { RunResult } from '../runtime/result.ts';
import type { RunRequestMessage, RunResultMessage } from '../transports/messages.ts';
import type { Transport } from '../transports/transport.ts';

/**
 * A failed result message for a request that did not run (no run id, no usage): its error is a
 * `ValidationError` with `code`, or a retriable `OrchestratorError` when `retriable`.
 *
 * @example
 * ```ts
 * await transport.send('result', [{ key: req.requestId, value: failedResult(req, workerId, 'INPUT_INVALID', 'input is not JSON') }]);
 * ```
 */
export function failedResult(req: RunRequestMessage, workerId: string, code: string, message: string, retriable = false): RunResultMessage {
  return {
    requestId: req.requestId, runId: '', topology: req.topology, status: 'failed', output: null, outputs: '{}',
    error: JSON.stringify({ name: retriable ? 'OrchestratorError' : 'ValidationError', code, message, retriable }),
    usage: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, reasoningTokens: 0, costUsd: 0, calls: 0 },
    worker: workerId, startedAt: Date.now(), endedAt: Date.now(),
  };
}

/**
 * The result message of a run that answers a request. run-result v1 has no `waiting`: a run parked
 * on a wait node is reported as not done (`failed`, its error `RUN_PARKED`).
 *
 * @example
 * ```ts
 * const value = resultMessage(req, await engine.run(topology, input), workerId);
 * ```
 */
export function resultMessage(req: RunRequestMessage, r: RunResult, workerId: string): RunResultMessage {
  const u = r.usage;
  return {
    // run-result v1 has no 'waiting': a run parked on a wait node is reported as not done (failed, its error RUN_PARKED)
    requestId: req.requestId, runId: r.runId, topology: r.topology, status: r.status === 'waiting' ? 'failed' : r.status,
    output: r.output === undefined ? null : JSON.stringify(r.output),
    outputs: JSON.stringify(r.outputs),
    error: r.error === undefined ? null : JSON.stringify(serializeError(r.error)),
    usage: { inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedTokens: u.cachedTokens, reasoningTokens: u.reasoningTokens, costUsd: u.costUsd, calls: u.calls },
    worker: workerId, startedAt: r.startedAt, endedAt: r.endedAt,
  };
}

/**
 * How {@link publishResult} publishes: the worker's id (for a replacement failed result), its logger
 * and the trace headers of the request (undefined for none).
 *
 * @example
 * ```ts
 * const how: PublishResultOptions = { workerId, log, headers: traceHeaders(traceContext) };
 * ```
 */
export interface PublishResultOptions {
  readonly workerId: string;
  readonly log: Logger;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * Publishes a request's result on the result topic, keyed by request id. A result too large to publish
 * (`KAFKA_RECORD_TOO_LARGE`) is answered with a failed `RESULT_TOO_LARGE` result, and this then rejects
 * non-retriably (`OrchestratorError` `RESULT_TOO_LARGE`: the request is dead-lettered at once). Call it
 * after the run's tokens and events are flushed: a result never overtakes them.
 *
 * @example
 * ```ts
 * await publisher.flush();
 * await publishResult(transport, req, result, { workerId, log, headers: traceHeaders(traceContext) });
 * ```
 */
export async function publishResult(transport: Transport, req: RunRequestMessage, result: RunResultMessage, options: PublishResultOptions): Promise<void> {
  const { headers, log } = options;
  try {
    await transport.send('result', [{ key: req.requestId, value: result, ...(headers === undefined ? {} : { headers }) }]);
  } catch (e) {
    // too large to publish: the client still gets an answer, a failed result that says why
    if (!(isOrchestratorError(e) && e.code === 'KAFKA_RECORD_TOO_LARGE')) throw e;
    log.error({ err: e, requestId: req.requestId }, 'result too large to publish; publishing a failed result');
    const message = `the result cannot be published: ${e.message}`;
    await transport.send('result', [{ key: req.requestId, value: { ...failedResult(req, options.workerId, 'RESULT_TOO_LARGE', message), runId: result.runId, startedAt: result.startedAt } }]);
    // ... and the request (or signal) goes to the dead-letter topic with the reason, not run again (the same run
    // would make the same result): a non-retriable rejection is dead-lettered at once (Transport.consume).
    throw new OrchestratorError('RESULT_TOO_LARGE', `request ${req.requestId}: ${message}`, { retriable: false, cause: e });
  }
}
