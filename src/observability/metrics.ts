/**
 * OpenTelemetry metrics from engine events. Model calls feed the GenAI client metrics exactly as
 * the semantic conventions define them (`gen_ai.client.token.usage`,
 * `gen_ai.client.operation.duration`, `gen_ai.client.operation.time_to_first_chunk`, with the
 * advised buckets); runs, nodes, retries, fallbacks, breakers, load and cost feed the engine's
 * own `llmo.*` metrics (see metric-names.ts). Instruments are made once per sink; attribute sets
 * once per distinct key (no run ids: cardinality stays bounded, and capped per attribute).
 * @module
 */
import type { Attributes, BatchObservableCallback, Meter, ObservableCallback } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_PROVIDER_NAME, ATTR_GEN_AI_REQUEST_MODEL, ATTR_GEN_AI_RESPONSE_MODEL, ATTR_GEN_AI_TOKEN_TYPE,
  GEN_AI_OPERATION_NAME_VALUE_CHAT, GEN_AI_TOKEN_TYPE_VALUE_INPUT, GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION, METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
} from '@opentelemetry/semantic-conventions/incubating';
import * as z from 'zod';
import { ValidationError, toIssues } from '../errors.ts';
import type { EngineEvent, ModelCallEvent } from '../runtime/events.ts';
import {
  CALL_SECONDS_BUCKETS, LLMO_ATTR, METRIC_LLMO_ADMISSION_WAIT, METRIC_LLMO_BREAKER_STATE, METRIC_LLMO_COST, METRIC_LLMO_FALLBACKS, METRIC_LLMO_NODE_DURATION,
  METRIC_LLMO_RETRIES, METRIC_LLMO_POLICY_DECISIONS, METRIC_LLMO_RUN_DURATION, METRIC_LLMO_RUNS_ENDED, METRIC_LLMO_RUNS_IN_FLIGHT, METRIC_LLMO_RUNS_QUEUED,
  METRIC_LLMO_RUNS_STARTED, METRIC_LLMO_TOKENS, RUN_SECONDS_BUCKETS, TOKEN_BUCKETS,
} from './metric-names.ts';
import { AttrSets, Vocabulary } from './metrics-attrs.ts';
import type { EventSink } from './sink.ts';

const isMeter = (v: unknown): v is Meter => typeof (v as Meter | null)?.createHistogram === 'function';
const isFn = (v: unknown): boolean => typeof v === 'function';

/**
 * Schema of {@link MetricsOptions}.
 *
 * @example
 * ```ts
 * MetricsOptionsSchema.parse({ meter, maxAttributeValues: 200 });
 * ```
 */
export const MetricsOptionsSchema = z.strictObject({
  meter: z.custom<Meter>(isMeter, 'expected an OpenTelemetry Meter'),
  load: z.custom<() => { readonly running: number; readonly queued: number }>(isFn, 'expected a function () => { running, queued }').optional(),
  maxAttributeValues: z.number().int().positive().optional(),
  maxOpenRuns: z.number().int().positive().optional(),
});

/**
 * Options of {@link createMetrics}.
 *
 * @example
 * ```ts
 * const options: MetricsOptions = { meter: metrics.getMeter('llm-orchestrator'), load: () => engine.load() };
 * ```
 */
export interface MetricsOptions {
  readonly meter: Meter;
  /** Reads the engine's load for the `llmo.runs.in_flight` and `llmo.runs.queued` gauges (left out: no such gauges). */
  readonly load?: () => { readonly running: number; readonly queued: number };
  /** Distinct values one attribute (topology, node, model, tenant, error type, ...) may take; later ones read `_OTHER`. Default 1000. */
  readonly maxAttributeValues?: number;
  /** Runs in flight whose start is remembered for their duration; past it the oldest is forgotten. Default 100,000. */
  readonly maxOpenRuns?: number;
}

/** Attribute sets of one model-call key (provider, request model, response model, error type). */
interface CallSets { readonly call: Attributes; readonly input: Attributes; readonly output: Attributes }
/** Attribute sets of one cost key (tenant, model, topology). */
interface CostSets { readonly cost: Attributes; readonly input: Attributes; readonly output: Attributes }
/** A run in flight (top-level or child): when it started, and when its running nodes did. */
interface OpenRun { readonly start: number; nodes: Map<string, number> | undefined }

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * Records engine events as OpenTelemetry metrics. Throws a ValidationError naming a bad option.
 * The sink never throws from `observe`; `close()` stops its gauges' callbacks.
 *
 * @example
 * ```ts
 * const sink = createMetrics({ meter: metrics.getMeter('llm-orchestrator'), load: () => engine.load() });
 * const sub = engine.events$.subscribe((e) => sink.observe(e));
 * ```
 */
export function createMetrics(options: MetricsOptions): EventSink {
  const parsed = MetricsOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ValidationError('OPTIONS_INVALID', 'metrics options are invalid', toIssues(parsed.error.issues, ['options']));
  const { meter, load } = options;
  const cap = options.maxAttributeValues ?? 1000;
  const maxOpenRuns = options.maxOpenRuns ?? 100_000;

  const tokenUsage = meter.createHistogram(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
    description: 'Number of input and output tokens used.', unit: '{token}', advice: { explicitBucketBoundaries: [...TOKEN_BUCKETS] },
  });
  const callDuration = meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, {
    description: 'GenAI operation duration.', unit: 's', advice: { explicitBucketBoundaries: [...CALL_SECONDS_BUCKETS] },
  });
  const firstChunk = meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, {
    description: 'Time to receive the first chunk of a streamed response.', unit: 's', advice: { explicitBucketBoundaries: [...CALL_SECONDS_BUCKETS] },
  });
  const runDuration = meter.createHistogram(METRIC_LLMO_RUN_DURATION, {
    description: 'Duration of top-level runs.', unit: 's', advice: { explicitBucketBoundaries: [...RUN_SECONDS_BUCKETS] },
  });
  const admissionWait = meter.createHistogram(METRIC_LLMO_ADMISSION_WAIT, {
    description: 'How long top-level runs waited for admission (0 when admitted at once).', unit: 's', advice: { explicitBucketBoundaries: [...RUN_SECONDS_BUCKETS] },
  });
  const nodeDuration = meter.createHistogram(METRIC_LLMO_NODE_DURATION, {
    description: 'Duration of node executions.', unit: 's', advice: { explicitBucketBoundaries: [...RUN_SECONDS_BUCKETS] },
  });
  const runsStarted = meter.createCounter(METRIC_LLMO_RUNS_STARTED, { description: 'Top-level runs started.', unit: '{run}' });
  const runsEnded = meter.createCounter(METRIC_LLMO_RUNS_ENDED, { description: 'Top-level runs ended, by status.', unit: '{run}' });
  const retries = meter.createCounter(METRIC_LLMO_RETRIES, { description: 'Retries of nodes and model calls.', unit: '{retry}' });
  const decisions = meter.createCounter(METRIC_LLMO_POLICY_DECISIONS, { description: 'Guard decisions that refused, waited for approval, rewrote or routed, or that a named rule made.', unit: '{decision}' });
  const fallbacks = meter.createCounter(METRIC_LLMO_FALLBACKS, { description: 'Moves to the next model of a fallback chain.', unit: '{fallback}' });
  const cost = meter.createCounter(METRIC_LLMO_COST, { description: 'Cost of model calls in US dollars.', unit: '{USD}' });
  const tokens = meter.createCounter(METRIC_LLMO_TOKENS, { description: 'Tokens of model calls, by tenant.', unit: '{token}' });
  const breakerGauge = meter.createObservableGauge(METRIC_LLMO_BREAKER_STATE, {
    description: 'Circuit breaker state per model: 0 closed, 1 half-open, 2 open.', unit: '1',
  });

  // cardinality guards, one per attribute
  const topologies = new Vocabulary(cap);
  const nodeIds = new Vocabulary(cap);
  const models = new Vocabulary(cap);
  const providers = new Vocabulary(cap);
  const tenants = new Vocabulary(cap);
  const errors = new Vocabulary(cap);

  const callSets = new AttrSets<CallSets>((provider, model, responseModel, error) => {
    const base: Attributes = { [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_CHAT, [ATTR_GEN_AI_PROVIDER_NAME]: provider, [ATTR_GEN_AI_REQUEST_MODEL]: model };
    if (responseModel !== '') base[ATTR_GEN_AI_RESPONSE_MODEL] = responseModel;
    return {
      call: error === '' ? base : { ...base, [ATTR_ERROR_TYPE]: error },
      input: { ...base, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT },
      output: { ...base, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT },
    };
  });
  const costSets = new AttrSets<CostSets>((tenant, model, topology) => {
    const t: Attributes = tenant === '' ? {} : { [LLMO_ATTR.tenant]: tenant };
    return {
      cost: { ...t, [LLMO_ATTR.model]: model, [LLMO_ATTR.topology]: topology },
      input: { ...t, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT },
      output: { ...t, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT },
    };
  });
  const runSets = new AttrSets<Attributes>((topology, status, error) => ({
    [LLMO_ATTR.topology]: topology, ...(status === '' ? {} : { [LLMO_ATTR.status]: status }), ...(error === '' ? {} : { [ATTR_ERROR_TYPE]: error }),
  }));
  const nodeSets = new AttrSets<Attributes>((topology, node, status) => ({ [LLMO_ATTR.topology]: topology, [LLMO_ATTR.node]: node, [LLMO_ATTR.status]: status }));
  const retrySets = new AttrSets<Attributes>((topology, model) => ({ [LLMO_ATTR.topology]: topology, ...(model === '' ? {} : { [LLMO_ATTR.model]: model }) }));
  const rules = new Vocabulary(cap);
  const decisionSets = new AttrSets<Attributes>((stage, action, rule, tenant) => {
    const a: Attributes = { [LLMO_ATTR.policyStage]: stage, [LLMO_ATTR.policyAction]: action };
    if (rule !== '') a[LLMO_ATTR.policyRule] = rule;
    if (tenant !== '') a[LLMO_ATTR.tenant] = tenant;
    return a;
  });
  const fallbackSets = new AttrSets<Attributes>((from, to, error) => ({ [LLMO_ATTR.fallbackFrom]: from, [LLMO_ATTR.fallbackTo]: to, [ATTR_ERROR_TYPE]: error }));

  const breakers = new Map<string, { readonly attributes: Attributes; value: number }>();
  const observeBreakers: ObservableCallback = (result) => {
    for (const b of breakers.values()) result.observe(b.value, b.attributes);
  };
  breakerGauge.addCallback(observeBreakers);

  let stopLoad: (() => void) | undefined;
  if (load !== undefined) {
    const inFlight = meter.createObservableGauge(METRIC_LLMO_RUNS_IN_FLIGHT, { description: 'Runs admitted and running.', unit: '{run}' });
    const queued = meter.createObservableGauge(METRIC_LLMO_RUNS_QUEUED, { description: 'Runs waiting for admission.', unit: '{run}' });
    const observeLoad: BatchObservableCallback = (observer) => {
      const l = load();
      observer.observe(inFlight, l.running);
      observer.observe(queued, l.queued);
    };
    meter.addBatchObservableCallback(observeLoad, [inFlight, queued]);
    stopLoad = () => meter.removeBatchObservableCallback(observeLoad, [inFlight, queued]);
  }

  const open = new Map<string, OpenRun>();

  const modelCall = (e: ModelCallEvent): void => {
    const sets = callSets.get(providers.of(e.provider), models.of(e.request.model), e.responseModel === undefined ? '' : models.of(e.responseModel),
      e.error === undefined ? '' : errors.of(e.error.code));
    callDuration.record((e.ts - e.startTs) / 1000, sets.call);
    if (e.firstTokenTs !== undefined) firstChunk.record((e.firstTokenTs - e.startTs) / 1000, sets.call);
    const u = e.usage;
    const c = u === undefined && e.costUsd === 0 ? undefined
      : costSets.get(e.tenant === undefined ? '' : tenants.of(e.tenant), models.of(e.model), topologies.of(e.topology), '');
    if (u !== undefined) {
      tokenUsage.record(u.inputTokens, sets.input);
      tokenUsage.record(u.outputTokens, sets.output);
      tokens.add(u.inputTokens, c!.input);
      tokens.add(u.outputTokens, c!.output);
    }
    if (e.costUsd > 0) cost.add(e.costUsd, c!.cost);
  };

  const observe = (e: EngineEvent): void => {
    switch (e.type) {
      case 'model.call':
        modelCall(e);
        break;
      case 'run.started': {
        const top = e.parentRunId === undefined;
        if (top && !open.has(e.runId)) {
          const attrs = runSets.get(topologies.of(e.topology), '', '', '');
          runsStarted.add(1, attrs);
          admissionWait.record((e.queuedMs ?? 0) / 1000, attrs);
        }
        if (open.size >= maxOpenRuns) {
          const oldest = open.keys().next();
          if (oldest.done !== true) open.delete(oldest.value);
        }
        open.set(e.runId, { start: e.ts, nodes: undefined });
        break;
      }
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled': {
        const run = open.get(e.runId);
        open.delete(e.runId);
        if (e.parentRunId !== undefined) break; // a child run is part of its parent node's time
        const status = e.type === 'run.completed' ? 'completed' : e.type === 'run.failed' ? 'failed' : 'cancelled';
        const attrs = runSets.get(topologies.of(e.topology), status, e.type === 'run.completed' ? '' : errors.of(e.error.code), '');
        runsEnded.add(1, attrs);
        if (run !== undefined) runDuration.record((e.ts - run.start) / 1000, attrs);
        break;
      }
      case 'node.started': {
        const run = open.get(e.runId);
        if (run !== undefined) (run.nodes ??= new Map()).set(e.nodeId, e.ts);
        break;
      }
      case 'node.completed':
      case 'node.failed':
      case 'node.cancelled': {
        const nodes = open.get(e.runId)?.nodes;
        const start = nodes?.get(e.nodeId);
        if (start === undefined) break;
        nodes!.delete(e.nodeId);
        const status = e.type === 'node.completed' ? 'completed' : e.type === 'node.failed' ? 'failed' : 'cancelled';
        nodeDuration.record((e.ts - start) / 1000, nodeSets.get(topologies.of(e.topology), nodeIds.of(e.nodeId), status, ''));
        break;
      }
      case 'node.retry':
        retries.add(1, retrySets.get(topologies.of(e.topology), e.model === undefined ? '' : models.of(e.model), '', ''));
        break;
      case 'policy.decision':
        decisions.add(1, decisionSets.get(e.stage, e.action, e.rule === undefined ? '' : rules.of(e.rule), e.tenant === undefined ? '' : tenants.of(e.tenant)));
        break;
      case 'node.fallback':
        fallbacks.add(1, fallbackSets.get(models.of(e.from), models.of(e.to), errors.of(e.reason.code), ''));
        break;
      case 'breaker.state': {
        const b = breakers.get(e.model);
        if (b !== undefined) b.value = BREAKER_VALUE[e.state];
        else breakers.set(e.model, { attributes: { [LLMO_ATTR.model]: models.of(e.model) }, value: BREAKER_VALUE[e.state] });
        break;
      }
      default:
        break;
    }
  };

  return {
    name: 'metrics',
    observe,
    close() {
      breakerGauge.removeCallback(observeBreakers);
      stopLoad?.();
      open.clear();
    },
  };
}
