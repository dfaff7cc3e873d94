/**
 * Run messages: the request to run a topology, the run's result, its token batches (with the run end
 * markers) and its lifecycle events (with the request attempt event), as TypeScript types mirroring
 * the Avro schemas in `schemas/`.
 * @module
 */
import type { UsageTotals } from '../../providers/types.ts';

/**
 * A request to run a topology.
 *
 * @example
 * ```ts
 * await transport.send('request', [{ key: requestId, value: request }]);
 * ```
 */
export interface RunRequestMessage {
  readonly requestId: string;
  readonly topology: string;
  /** JSON text of the input. */
  readonly input: string;
  readonly priority: 'high' | 'normal' | 'low';
  readonly tenant: string | null;
  readonly deadlineMs: number | null;
  readonly createdAt: number;
  /** Who the run is for within its tenant (v2; v1 data reads with `user: null`): experiments stick to it. */
  readonly user?: string | null;
}

/**
 * The end of a run.
 *
 * @example
 * ```ts
 * if (result.status === 'completed') console.log(JSON.parse(result.output!));
 * ```
 */
export interface RunResultMessage {
  readonly requestId: string;
  readonly runId: string;
  readonly topology: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  readonly output: string | null;
  readonly outputs: string;
  readonly error: string | null;
  readonly usage: UsageTotals;
  readonly worker: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/**
 * Consecutive tokens of one node of one run, a node restart marker (`restart` set, no tokens), or a
 * run end marker (`nodeId: ''`, `restart` {@link RUN_ENDED} or {@link RUN_ABANDONED}): a worker
 * sends one after the run's last tokens, so a reader knows the run's token stream is complete
 * (ended, its result follows) or was given up (abandoned: no result from this run).
 * v2 adds `requestId` and `attempt` (v1 data reads with `null` and 1).
 *
 * @example
 * ```ts
 * const text = batch.tokens.join(''); // tokens firstIndex .. firstIndex + tokens.length - 1
 * if (isRunEndMarker(batch)) close(batch.runId, batch.restart);
 * ```
 */
export interface TokenBatchMessage {
  readonly runId: string;
  readonly nodeId: string;
  readonly firstIndex: number;
  readonly tokens: readonly string[];
  readonly restart: string | null;
  readonly ts: number;
  /** The run request this run serves (null when the run was not started by a worker). v2: always set when read; null when the writer omitted it. */
  readonly requestId?: string | null;
  /** Deliveries of the request to the worker process that ran it, so far (1 = first; a redelivery to another process starts at 1 again). v2: always set when read; 1 when omitted. */
  readonly attempt?: number;
}

/**
 * `restart` of a run end marker: the run finished, its tokens are complete and its result follows.
 *
 * @example
 * ```ts
 * if (batch.nodeId === '' && batch.restart === RUN_ENDED) done(batch.runId);
 * ```
 */
export const RUN_ENDED = 'ended';

/**
 * `restart` of a run end marker: the worker gave the run up (a failed handler, a shutdown mid-run);
 * no result comes from this run, the request is redelivered to a worker.
 *
 * @example
 * ```ts
 * if (batch.nodeId === '' && batch.restart === RUN_ABANDONED) discard(batch.runId);
 * ```
 */
export const RUN_ABANDONED = 'abandoned';

/**
 * Whether a token batch is a run end marker (see {@link TokenBatchMessage}).
 *
 * @example
 * ```ts
 * if (isRunEndMarker(batch)) console.log(batch.runId, batch.restart); // 'ended' | 'abandoned'
 * ```
 */
export function isRunEndMarker(batch: TokenBatchMessage): boolean {
  return batch.nodeId === '' && (batch.restart === RUN_ENDED || batch.restart === RUN_ABANDONED);
}

/**
 * Lifecycle event type a worker publishes when it starts an attempt at a request, before the
 * run's first event. Keyed by request id (not run id), so a request's attempts stay in order.
 * `data` is JSON `{ worker }`. A reader following a request closes the earlier attempts' streams.
 *
 * @example
 * ```ts
 * if (event.type === REQUEST_ATTEMPT) follow(event.requestId!, event.runId);
 * ```
 */
export const REQUEST_ATTEMPT = 'request.attempt';

/**
 * One lifecycle event (v2 adds `requestId` and `attempt`; see {@link REQUEST_ATTEMPT}).
 *
 * @example
 * ```ts
 * const details = JSON.parse(event.data) as Record<string, unknown>;
 * ```
 */
export interface LifecycleEventMessage {
  readonly runId: string;
  readonly topology: string;
  readonly type: string;
  readonly seq: number;
  readonly ts: number;
  readonly nodeId: string | null;
  readonly parentRunId: string | null;
  /** JSON of the other event fields. */
  readonly data: string;
  /** The run request this run serves (null when the run was not started by a worker). v2: always set when read; null when the writer omitted it or wrote v1. */
  readonly requestId?: string | null;
  /** Deliveries of the request to the worker process that ran it, so far (1 = first). v2: always set when read; 1 when omitted or v1. */
  readonly attempt?: number;
}
