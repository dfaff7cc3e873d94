/**
 * Spans from engine events, with the OpenTelemetry GenAI semantic conventions: a span per run
 * (`invoke_workflow <topology>`), a child span per node, and a `chat <model>` client span per model
 * call under its node, with `gen_ai.*` request, response and usage attributes. Retries and
 * fallbacks are span events; failures set an error status and `error.type`. Prompt and
 * completion capture is off by default; when on, text goes through a redactor first.
 * @module
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_GEN_AI_INPUT_MESSAGES, ATTR_GEN_AI_OPERATION_NAME, ATTR_GEN_AI_OUTPUT_MESSAGES, ATTR_GEN_AI_OUTPUT_TYPE, ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS, ATTR_GEN_AI_REQUEST_MODEL, ATTR_GEN_AI_REQUEST_SEED, ATTR_GEN_AI_REQUEST_STOP_SEQUENCES, ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE, ATTR_GEN_AI_RESPONSE_FINISH_REASONS, ATTR_GEN_AI_RESPONSE_ID, ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, ATTR_GEN_AI_USAGE_INPUT_TOKENS, ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  ATTR_GEN_AI_WORKFLOW_NAME, GEN_AI_OPERATION_NAME_VALUE_CHAT, GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW,
} from '@opentelemetry/semantic-conventions/incubating';
import type { Observable, Subscription } from 'rxjs';
import { redactPiiSync } from '../governance/pii/redact.ts';
import type { EngineEvent, ModelCallEvent } from '../runtime/events.ts';
import type { TraceContext } from '../runtime/trace-context.ts';
import type { ChatMessage } from '../providers/types.ts';
import type { EventSink } from './sink.ts';
import { contextOfTrace, traceContextOfSpan } from './w3c.ts';

/**
 * Prompt and completion capture on model-call spans (`gen_ai.input.messages`,
 * `gen_ai.output.messages`, `gen_ai.system_instructions`).
 *
 * @example
 * ```ts
 * const capture: CaptureOptions = { content: true, maxChars: 4_000 };
 * ```
 */
export interface CaptureOptions {
  /** Capture message text at all (default off: spans carry no prompt or completion). */
  readonly content: boolean;
  /** Applied to every captured text. Default: PII and secrets masked (`redactPiiSync(text, { mode: 'mask' })`). */
  readonly redact?: (text: string) => string;
  /** Longest captured text per message, characters (default 8,000; longer is cut with `…`). */
  readonly maxChars?: number;
}

/**
 * Options of {@link createTracing}.
 *
 * @example
 * ```ts
 * const options: TracingOptions = { tracer: trace.getTracer('llm-orchestrator') };
 * ```
 */
export interface TracingOptions {
  readonly tracer: Tracer;
  readonly capture?: CaptureOptions;
}

/**
 * The tracing part of telemetry: a sink making spans, and the W3C context of the spans it holds open.
 *
 * @example
 * ```ts
 * const tracing: Tracing = createTracing({ tracer });
 * engine.events$.subscribe((e) => tracing.observe(e));
 * ```
 */
export interface Tracing extends EventSink {
  close(): void;
  /** The trace context of the node's span (or the run's, without `nodeId` or when the node has none open). */
  traceContext(runId: string, nodeId?: string): TraceContext | undefined;
}

const key = (runId: string, nodeId: string): string => `${runId}\u0000${nodeId}`;
const maskPii = (text: string): string => redactPiiSync(text, { mode: 'mask' }).text;

/**
 * Creates the tracing sink.
 *
 * @example
 * ```ts
 * const tracing = createTracing({ tracer: trace.getTracer('llm-orchestrator'), capture: { content: true } });
 * ```
 */
export function createTracing(options: TracingOptions): Tracing {
  const { tracer } = options;
  const capture = options.capture?.content === true ? options.capture : undefined;
  const redact = capture?.redact ?? maskPii;
  const maxChars = capture?.maxChars ?? 8_000;
  const clip = (text: string): string => {
    const r = redact(text);
    return r.length > maxChars ? `${r.slice(0, maxChars)}…` : r;
  };
  const runs = new Map<string, Span>();
  const nodes = new Map<string, Span>();

  const parentOf = (e: { readonly parentRunId?: string; readonly trace?: TraceContext }): Context => {
    const parent = e.parentRunId === undefined ? undefined : runs.get(e.parentRunId);
    if (parent !== undefined) return trace.setSpan(context.active(), parent);
    if (e.trace !== undefined) return contextOfTrace(e.trace) ?? context.active();
    return context.active();
  };

  const modelCall = (e: ModelCallEvent): void => {
    const node = nodes.get(key(e.runId, e.nodeId)) ?? runs.get(e.runId);
    const ctx = node === undefined ? context.active() : trace.setSpan(context.active(), node);
    const req = e.request;
    const a: Attributes = {
      [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_CHAT,
      [ATTR_GEN_AI_PROVIDER_NAME]: e.provider,
      [ATTR_GEN_AI_REQUEST_MODEL]: req.model,
      [ATTR_GEN_AI_REQUEST_STREAM]: true,
      'llmo.run_id': e.runId,
      'llmo.node_id': e.nodeId,
      'llmo.model': e.model,
      'llmo.attempt': e.attempt,
      'llmo.cost_usd': e.costUsd,
    };
    if (req.temperature !== undefined) a[ATTR_GEN_AI_REQUEST_TEMPERATURE] = req.temperature;
    if (req.maxTokens !== undefined) a[ATTR_GEN_AI_REQUEST_MAX_TOKENS] = req.maxTokens;
    if (req.seed !== undefined) a[ATTR_GEN_AI_REQUEST_SEED] = req.seed;
    if (req.stop !== undefined) a[ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = [...req.stop];
    if (req.json === true) a[ATTR_GEN_AI_OUTPUT_TYPE] = 'json';
    if (e.responseModel !== undefined) a[ATTR_GEN_AI_RESPONSE_MODEL] = e.responseModel;
    if (e.responseId !== undefined) a[ATTR_GEN_AI_RESPONSE_ID] = e.responseId;
    if (e.finishReason !== undefined) a[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [e.finishReason];
    if (e.firstTokenTs !== undefined) a[ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (e.firstTokenTs - e.startTs) / 1000;
    const u = e.usage;
    if (u !== undefined) {
      a[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = u.inputTokens;
      a[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = u.outputTokens;
      if (u.cachedTokens > 0) a[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = u.cachedTokens;
      if ((u.cacheWriteTokens ?? 0) > 0) a[ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = u.cacheWriteTokens;
      if (u.reasoningTokens > 0) a[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = u.reasoningTokens;
      if (u.estimated) a['llmo.usage.estimated'] = true;
    }
    if (capture !== undefined) {
      const system = req.messages.filter((m) => m.role === 'system');
      if (system.length > 0) a[ATTR_GEN_AI_SYSTEM_INSTRUCTIONS] = JSON.stringify(system.map((m) => ({ type: 'text', content: clip(m.content) })));
      a[ATTR_GEN_AI_INPUT_MESSAGES] = JSON.stringify(req.messages.filter((m) => m.role !== 'system').map((m) => wireMessage(m, clip)));
      if (e.error === undefined) {
        a[ATTR_GEN_AI_OUTPUT_MESSAGES] = JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: clip(e.text) }], finish_reason: e.finishReason ?? 'other' }]);
      }
    }
    if (e.error !== undefined) a[ATTR_ERROR_TYPE] = e.error.code;
    const span = tracer.startSpan(`${GEN_AI_OPERATION_NAME_VALUE_CHAT} ${req.model}`, { kind: SpanKind.CLIENT, startTime: e.startTs, attributes: a }, ctx);
    if (e.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
    span.end(e.ts);
  };

  const observe = (e: EngineEvent): void => {
    switch (e.type) {
      case 'run.started': {
        const a: Attributes = {
          [ATTR_GEN_AI_OPERATION_NAME]: GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW,
          [ATTR_GEN_AI_WORKFLOW_NAME]: e.topology,
          'llmo.run_id': e.runId, 'llmo.topology': e.topology, 'llmo.priority': e.priority,
        };
        if (e.variant !== undefined) a['llmo.variant'] = e.variant;
        if (e.policyVersion !== undefined) a['llmo.policy_version'] = e.policyVersion;
        if (e.parentRunId !== undefined) a['llmo.parent_run_id'] = e.parentRunId;
        const existing = runs.get(e.runId);
        if (existing !== undefined) existing.end(e.ts); // a run started again here (resumed): its old span ends
        runs.set(e.runId, tracer.startSpan(`${GEN_AI_OPERATION_NAME_VALUE_INVOKE_WORKFLOW} ${e.topology}`, { startTime: e.ts, attributes: a }, parentOf(e)));
        break;
      }
      case 'node.started': {
        const run = runs.get(e.runId);
        const ctx = run === undefined ? context.active() : trace.setSpan(context.active(), run);
        nodes.set(key(e.runId, e.nodeId), tracer.startSpan(`node ${e.nodeId}`, { startTime: e.ts, attributes: { 'llmo.run_id': e.runId, 'llmo.node_id': e.nodeId } }, ctx));
        break;
      }
      case 'model.call':
        modelCall(e);
        break;
      case 'node.retry':
        nodes.get(key(e.runId, e.nodeId))?.addEvent('retry', {
          'llmo.attempt': e.attempt, 'llmo.delay_ms': e.delayMs, [ATTR_ERROR_TYPE]: e.error.code, 'llmo.error': e.error.message, ...(e.model === undefined ? {} : { 'llmo.model': e.model }),
        }, e.ts);
        break;
      case 'node.fallback':
        nodes.get(key(e.runId, e.nodeId))?.addEvent('fallback', { 'llmo.from': e.from, 'llmo.to': e.to, [ATTR_ERROR_TYPE]: e.reason.code, 'llmo.error': e.reason.message }, e.ts);
        break;
      case 'node.restart':
        nodes.get(key(e.runId, e.nodeId))?.addEvent('restart', { 'llmo.reason': e.reason }, e.ts);
        break;
      case 'policy.decision':
        // a call or output decision is an event of its node's span (a run refused before admission has no span yet; its run.failed says why)
        if (e.nodeId !== undefined) {
          nodes.get(key(e.runId, e.nodeId))?.addEvent('policy.decision', {
            'llmo.policy.stage': e.stage, 'llmo.policy.action': e.action,
            ...(e.rule === undefined ? {} : { 'llmo.policy.rule': e.rule }),
            ...(e.routedTo === undefined ? {} : { 'llmo.policy.routed_to': e.routedTo }),
            ...(e.error === undefined ? {} : { [ATTR_ERROR_TYPE]: e.error.code }),
          }, e.ts);
        }
        break;
      case 'node.resumed':
      case 'node.skipped':
        runs.get(e.runId)?.addEvent(e.type, { 'llmo.node_id': e.nodeId }, e.ts);
        break;
      case 'node.completed':
      case 'node.failed':
      case 'node.cancelled': {
        const k = key(e.runId, e.nodeId);
        const span = nodes.get(k);
        if (span === undefined) break;
        if (e.type !== 'node.completed') {
          span.setAttribute(ATTR_ERROR_TYPE, e.error.code);
          if (e.type === 'node.failed') span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
          else span.setAttribute('llmo.cancelled', true);
        }
        if (e.type !== 'node.cancelled' && e.usage !== undefined) usageAttributes(span, e.usage);
        span.end(e.ts);
        nodes.delete(k);
        break;
      }
      case 'run.parked':
      case 'run.completed':
      case 'run.failed':
      case 'run.cancelled': {
        const span = runs.get(e.runId);
        if (span === undefined) break;
        if (e.type === 'run.parked') span.setAttributes({ 'llmo.parked': true, 'llmo.wait.node_id': e.nodeId, 'llmo.wait.name': e.name });
        else if (e.usage !== undefined) usageAttributes(span, e.usage);
        if (e.type === 'run.failed' || e.type === 'run.cancelled') {
          span.setAttribute(ATTR_ERROR_TYPE, e.error.code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
        }
        span.end(e.ts);
        runs.delete(e.runId);
        const prefix = `${e.runId}\u0000`;
        for (const [k, s] of nodes) {
          if (k.startsWith(prefix)) {
            s.end(e.ts);
            nodes.delete(k);
          }
        }
        break;
      }
      default:
        break;
    }
  };

  return {
    name: 'traces',
    observe,
    traceContext(runId, nodeId) {
      const span = (nodeId === undefined ? undefined : nodes.get(key(runId, nodeId))) ?? runs.get(runId);
      return span === undefined ? undefined : traceContextOfSpan(span.spanContext());
    },
    close() {
      const now = Date.now();
      for (const s of nodes.values()) s.end(now);
      for (const s of runs.values()) s.end(now);
      nodes.clear();
      runs.clear();
    },
  };
}

function usageAttributes(span: Span, u: { readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number; readonly calls: number }): void {
  span.setAttributes({
    [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: u.inputTokens, [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: u.outputTokens,
    'llmo.usage.cost_usd': u.costUsd, 'llmo.usage.calls': u.calls,
  });
}

/** A chat message in the GenAI conventions' `gen_ai.input.messages` shape. */
function wireMessage(m: ChatMessage, clip: (text: string) => string): Record<string, unknown> {
  const parts: Record<string, unknown>[] = [];
  if (m.content !== '') parts.push({ type: 'text', content: clip(m.content) });
  if (m.role === 'assistant' && m.toolCalls !== undefined) {
    for (const c of m.toolCalls) parts.push({ type: 'tool_call', id: c.id, name: c.name, arguments: clip(c.arguments) });
  }
  if (m.role === 'tool') return { role: 'tool', parts: [{ type: 'tool_call_response', id: m.toolCallId, response: clip(m.content) }] };
  return { role: m.role, parts };
}

/**
 * Turns an engine's events into spans until unsubscribed (the open ones end then). The simple
 * form of `createTelemetry({ metrics: false }).attach(engine)`.
 *
 * @example
 * ```ts
 * const sub = traceEvents(engine.events$, trace.getTracer('llm-orchestrator'));
 * ```
 */
export function traceEvents(events$: Observable<EngineEvent>, tracer: Tracer, capture?: CaptureOptions): Subscription {
  const tracing = createTracing({ tracer, ...(capture === undefined ? {} : { capture }) });
  const sub = events$.subscribe((e) => tracing.observe(e));
  sub.add(() => tracing.close());
  return sub;
}
