/**
 * Identity of a worker's runs: each attempt at a request is counted (deliveries
 * of the request to this worker so far), announced with a `request.attempt`
 * lifecycle event keyed by request id, and closed after its last tokens by a run
 * end marker (`ended`, or `abandoned` when the worker gives the run up), so a
 * reader following the request knows which run answers it and when its tokens
 * are complete.
 * @module
 */
import { REQUEST_ATTEMPT, type LifecycleEventMessage, type RUN_ABANDONED, type RUN_ENDED, type TokenBatchMessage } from '../transports/messages.ts';

/**
 * A counter of the deliveries of each request id, remembering the `limit` most recently delivered ids:
 * returns the attempt number of a new delivery (1 for the first).
 *
 * @example
 * ```ts
 * const countDelivery = createDeliveryCounter();
 * countDelivery('req-1'); // 1
 * countDelivery('req-1'); // 2
 * ```
 */
export function createDeliveryCounter(limit = 10_000): (requestId: string) => number {
  /** Deliveries of each request id (the most recent `limit` ids). */
  const deliveries = new Map<string, number>();
  return (requestId) => {
    const n = (deliveries.get(requestId) ?? 0) + 1;
    deliveries.delete(requestId); // re-inserted last: the map's order is recency
    deliveries.set(requestId, n);
    if (deliveries.size > limit) deliveries.delete(deliveries.keys().next().value!);
    return n;
  };
}

/**
 * The `request.attempt` lifecycle event of an attempt at a request (publish it keyed by request id,
 * before the run's first event): a reader following the request learns which run answers it.
 *
 * @example
 * ```ts
 * await transport.send('event', [{ key: requestId, value: attemptEvent(requestId, runId, 'rag', 1, workerId) }]);
 * ```
 */
export function attemptEvent(requestId: string, runId: string, topology: string, attempt: number, workerId: string): LifecycleEventMessage {
  return { runId, topology, type: REQUEST_ATTEMPT, seq: 0, ts: Date.now(), nodeId: null, parentRunId: null, data: JSON.stringify({ worker: workerId }), requestId, attempt };
}

/**
 * A run's end marker, its last token message (publish it keyed by run id, after the run's last tokens):
 * its tokens are complete (`ended`) or it was given up (`abandoned`).
 *
 * @example
 * ```ts
 * await transport.send('token', [{ key: runId, value: endMarkerBatch(runId, requestId, attempt, RUN_ENDED) }]);
 * ```
 */
export function endMarkerBatch(runId: string, requestId: string, attempt: number, how: typeof RUN_ENDED | typeof RUN_ABANDONED): TokenBatchMessage {
  return { runId, nodeId: '', firstIndex: 0, tokens: [], restart: how, ts: Date.now(), requestId, attempt };
}
