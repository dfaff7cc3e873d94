/**
 * Names, units and bucket boundaries of the metrics telemetry records: the `gen_ai.client.*`
 * ones come from `@opentelemetry/semantic-conventions`; the engine's own carry the `llmo.` prefix.
 * @module
 */

/**
 * The instrumentation scope telemetry reports under (its tracer and meter name).
 *
 * @example
 * ```ts
 * const meter = metrics.getMeter(INSTRUMENTATION_SCOPE);
 * ```
 */
export const INSTRUMENTATION_SCOPE = 'llm-orchestrator';

/**
 * Bucket boundaries the GenAI conventions advise for `gen_ai.client.token.usage` (powers of 4, 1 to 4^13).
 *
 * @example
 * ```ts
 * meter.createHistogram('tokens', { advice: { explicitBucketBoundaries: [...TOKEN_BUCKETS] } });
 * ```
 */
export const TOKEN_BUCKETS: readonly number[] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

/**
 * Bucket boundaries (seconds) the GenAI conventions advise for `gen_ai.client.operation.duration`
 * and `gen_ai.client.operation.time_to_first_chunk` (0.01 doubling to 81.92).
 *
 * @example
 * ```ts
 * meter.createHistogram('latency', { unit: 's', advice: { explicitBucketBoundaries: [...CALL_SECONDS_BUCKETS] } });
 * ```
 */
export const CALL_SECONDS_BUCKETS: readonly number[] = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/**
 * Bucket boundaries (seconds) of run and node durations: from a millisecond (code nodes) to an hour (long workflows).
 *
 * @example
 * ```ts
 * meter.createHistogram(METRIC_LLMO_RUN_DURATION, { unit: 's', advice: { explicitBucketBoundaries: [...RUN_SECONDS_BUCKETS] } });
 * ```
 */
export const RUN_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600];

/**
 * Duration of top-level runs, seconds (histogram; `llmo.topology`, `llmo.status`, `error.type` when not completed).
 *
 * @example
 * ```ts
 * rm.scopeMetrics[0].metrics.find((m) => m.descriptor.name === METRIC_LLMO_RUN_DURATION);
 * ```
 */
export const METRIC_LLMO_RUN_DURATION = 'llmo.run.duration';
/**
 * How long top-level runs waited for admission, seconds (histogram; `llmo.topology`): 0 for a run admitted at once.
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_ADMISSION_WAIT; // 'llmo.run.admission_wait'
 * ```
 */
export const METRIC_LLMO_ADMISSION_WAIT = 'llmo.run.admission_wait';
/**
 * Duration of node executions, seconds (histogram; `llmo.topology`, `llmo.node_id`, `llmo.status`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_NODE_DURATION; // 'llmo.node.duration'
 * ```
 */
export const METRIC_LLMO_NODE_DURATION = 'llmo.node.duration';
/**
 * Top-level runs started (counter; `llmo.topology`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_RUNS_STARTED; // 'llmo.runs.started'
 * ```
 */
export const METRIC_LLMO_RUNS_STARTED = 'llmo.runs.started';
/**
 * Top-level runs ended, by status (counter; `llmo.topology`, `llmo.status`, `error.type` when not completed).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_RUNS_ENDED; // 'llmo.runs.ended'
 * ```
 */
export const METRIC_LLMO_RUNS_ENDED = 'llmo.runs.ended';
/**
 * Runs admitted and running now (observable gauge, from the engine's `load()`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_RUNS_IN_FLIGHT; // 'llmo.runs.in_flight'
 * ```
 */
export const METRIC_LLMO_RUNS_IN_FLIGHT = 'llmo.runs.in_flight';
/**
 * Runs waiting for admission now (observable gauge, from the engine's `load()`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_RUNS_QUEUED; // 'llmo.runs.queued'
 * ```
 */
export const METRIC_LLMO_RUNS_QUEUED = 'llmo.runs.queued';
/**
 * Retries of nodes and model calls (counter; `llmo.topology`, `llmo.model` for a model call's).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_RETRIES; // 'llmo.retries'
 * ```
 */
export const METRIC_LLMO_RETRIES = 'llmo.retries';
/**
 * Decisions of the engine's guards that were not a plain allow (counter; `llmo.policy.stage`,
 * `llmo.policy.action`, `llmo.policy.rule`, `llmo.tenant`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_POLICY_DECISIONS; // 'llmo.policy.decisions'
 * ```
 */
export const METRIC_LLMO_POLICY_DECISIONS = 'llmo.policy.decisions';
/**
 * Moves down a fallback chain (counter; `llmo.fallback.from`, `llmo.fallback.to`, `error.type`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_FALLBACKS; // 'llmo.fallbacks'
 * ```
 */
export const METRIC_LLMO_FALLBACKS = 'llmo.fallbacks';
/**
 * Circuit breaker state per model (observable gauge; `llmo.model`): 0 closed, 1 half-open, 2 open.
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_BREAKER_STATE; // 'llmo.breaker.state'
 * ```
 */
export const METRIC_LLMO_BREAKER_STATE = 'llmo.breaker.state';
/**
 * Cost of model calls, USD (counter; `llmo.tenant` when the run has one, `llmo.model`, `llmo.topology`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_COST; // 'llmo.cost.usd'
 * ```
 */
export const METRIC_LLMO_COST = 'llmo.cost.usd';
/**
 * Tokens of model calls by tenant (counter; `llmo.tenant` when the run has one, `gen_ai.token.type`).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_TOKENS; // 'llmo.tokens'
 * ```
 */
export const METRIC_LLMO_TOKENS = 'llmo.tokens';

/**
 * Server-Sent Events clients of `llmo serve` dropped for not reading (counter): each one also a
 * `server.stream.dropped` event and a warning.
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_STREAM_DROPPED; // 'llmo.server.stream.dropped'
 * ```
 */
export const METRIC_LLMO_STREAM_DROPPED = 'llmo.server.stream.dropped';
/**
 * Server-Sent Events streams `llmo serve` has open now (observable gauge).
 *
 * @example
 * ```ts
 * const name = METRIC_LLMO_STREAMS_OPEN; // 'llmo.server.streams'
 * ```
 */
export const METRIC_LLMO_STREAMS_OPEN = 'llmo.server.streams';

/**
 * Attribute names of the `llmo.*` metrics.
 *
 * @example
 * ```ts
 * point.attributes[LLMO_ATTR.topology]; // 'rag'
 * ```
 */
export const LLMO_ATTR = {
  topology: 'llmo.topology',
  node: 'llmo.node_id',
  status: 'llmo.status',
  model: 'llmo.model',
  tenant: 'llmo.tenant',
  fallbackFrom: 'llmo.fallback.from',
  fallbackTo: 'llmo.fallback.to',
  policyStage: 'llmo.policy.stage',
  policyAction: 'llmo.policy.action',
  policyRule: 'llmo.policy.rule',
} as const;

/**
 * The value an attribute takes once it has seen too many distinct values (cardinality guard).
 *
 * @example
 * ```ts
 * if (point.attributes['llmo.tenant'] === OTHER_VALUE) console.warn('tenant cardinality capped');
 * ```
 */
export const OTHER_VALUE = '_OTHER';
