/**
 * llm-orchestrator: multi-model LLM pipelines as reactive, backpressure-aware
 * RxJS stream topologies.
 *
 * This is the core entry: the builder, the engine, the node kinds, the model
 * catalogue with the simulated provider, the errors, and `createLoop` (feedback loops). It loads no Kafka, Avro,
 * YAML, OpenTelemetry or tokenizer code; those live behind their own entries:
 * `llm-orchestrator/documents` (JSON/YAML topologies), `/providers` (OpenAI-compatible
 * and Anthropic), `/tokenizer`, `/transport`, `/kafka`, `/worker`, `/otel`, `/testing` and `/loops`
 * (the loop parts and in-process evaluators).
 *
 * @example
 * ```ts
 * import { createEngine, topology } from 'llm-orchestrator';
 * const t = topology('hello').map('greet', { run: () => 'hi' }).build({ output: 'greet' });
 * const r = await createEngine().run(t, undefined);
 * ```
 * @module
 */
export { topology, type TopologyBuilder, type TopologyOptions, type DepsOf, type Add, type WithAfter } from './builder/builder.ts';
export type {
  Topology, AnyTopology, NodeDef, NodeKind, NodeContext, Priority, Execute, ExecServices,
  InputOf, OutputsOf, OutputOf, StreamChunk, RemoteExecutor, RemoteTask, NodeNote, CompensationContext, WaitRequest, NodeOverride, ModelCall,
} from './definition/types.ts';
export { ApprovalSchema } from './definition/guard.ts';
export type { Guard, GuardSubject, RunCheck, RunVerdict, CallCheck, CallEstimate, CallVerdict, CallWatch, OutputVerdict, ToolCheck, ToolVerdict } from './definition/guard.ts';
export { validateTopology, type Validation } from './compiler/validate.ts';
export type { Graph, Edge, Gate } from './compiler/graph.ts';
export { renderGraph, type GraphFormat } from './compiler/render.ts';
export {
  createEngine, type Engine, type EngineLoad, type EngineOptions, type RunOptions, type StreamOptions, type ShutdownOptions, type ResultOf, type ResumeOptions,
  type ForkOptions, type RunNodeOptions, type RunsView, type StateAt, type HistoryRange, type SignalReceipt, type CancelOptions, type CancelReceipt,
} from './runtime/engine.ts';
export { USAGE_DIMS, USAGE_OVERFLOW, UsageDimsSchema, UsageFilterSchema, type UsageDim, type UsageFilter, type UsageRow } from './runtime/usage.ts';
export { TraceContextSchema, traceContextOf, type TraceContext } from './runtime/trace-context.ts';
export type { RunResult, CompletedRun, FailedRun, CancelledRun, WaitingRun, RunUsage } from './runtime/result.ts';
export type { InputSource } from './runtime/source.ts';
export type {
  EngineEvent, TokenEvent, RestartEvent, ModelCallEvent, RunParkedEvent, BreakerEvent, PolicyDecisionEvent, RunEvent, RunEventType,
  RunStartedEvent, RunCompletedEvent, RunFailedEvent, RunCancelledEvent,
  NodeStartedEvent, NodeCompletedEvent, NodeFailedEvent, NodeSkippedEvent, NodeResumedEvent,
  NodeRetryEvent, NodeFallbackEvent, NodeCompensatedEvent, NodeCompensationFailedEvent, NodeCancelledEvent,
} from './runtime/events.ts';
export type {
  Provider, ProviderEvent, CompletionRequest, ChatMessage, ToolCall, ToolDescription, Usage, UsageTotals, FinishReason, RateLimitInfo,
} from './providers/types.ts';
export { createModels, DEFAULT_PRICES, type Models, type Price, type ModelsOptions, type ResolvedModel } from './providers/models.ts';
export { RateLimitsSchema, type RateLimits, type RateLimiter, type Reservation } from './providers/ratelimit.ts';
export { createSimProvider, SIM_MODELS, type SimProviderOptions, type SimTiming, type SimResponse } from './providers/sim.ts';
export { simJudge, simQuestion, simAnswer, parseSimQuestion, SIM_QUALITY_MODELS } from './providers/sim-quality.ts';
export { estimateTokens, type TokenCounter } from './providers/tokens.ts';
export { ResilienceOptionsSchema, BulkheadOptionsSchema, type ResilienceOptions, type BulkheadOptions, type Resilience } from './resilience/resilience.ts';
export { BreakerOptionsSchema, type BreakerOptions, type BreakerState, type Breakers } from './resilience/breakers.ts';
export { RetryOptionsSchema, type RetryOptions, type RetryBudget } from './resilience/retry.ts';
export type { RunStore, StoredEvent, StoredRunStatus, NewRun, RunRecord, RunQuery, ClaimRequest, RetentionRequest, CancelRequest } from './runtime/store.ts';
export { ENDED_STATUSES } from './runtime/store.ts';
export type { DurableOptions, RecoverOptions, RecoveryReport } from './runtime/engine.ts';
export { foldRun, type FoldedRun, type FoldedNode, type FoldedRunStatus, type FoldedNodeStatus, type FoldAt } from './runtime/fold.ts';
export { topologyVersion, topologyVersions } from './runtime/version.ts';
export { processOwner, isDeadOwner } from './runtime/durable.ts';
export {
  OrchestratorError, ValidationError, TopologyError, NodeError, TimeoutError, CancelledError, RejectedError, ProviderError, StoppedError,
  RetriesExhaustedError, CircuitOpenError, StoreError, isStoreError, type StoreErrorCode, WaitError, isWaitError, type WaitErrorCode,
  PolicyError, isPolicyError, type PolicyErrorCode, type PolicyErrorOptions,
  isOrchestratorError, isValidationError, isTopologyError, isNodeError, isTimeoutError, isCancelledError, isRejectedError,
  isProviderError, isStoppedError, isRetriesExhaustedError, isCircuitOpenError,
  retriableOf, serializeError, formatIssues,
  type Issue, type SerializedError, type OrchestratorErrorOptions, type ProviderErrorDetails,
} from './errors.ts';
export {
  map, route, join, tool, defineTool, fanOut, subTopology, llm, wait, type WaitSpec, DEFAULT_OUTPUT_ALLOWANCE,
  type LlmSpec, type LlmOutput, type LlmToolCall, type CallTimeouts,
  type MapSpec, type RouteSpec, type JoinSpec, type Tool, type ToolSpec, type FanOutSpec, type SubTopologySpec,
  type NodeOptions, type BaseSpec,
} from '../operators/index.ts';
export type { Logger, LogFn } from './logger.ts';
export { iterate, tokens } from './pull/iterate.ts';
export type { RunLoop, RunDecision, RunSummary, DecisionRequest, StatRow, LoopEvent, LoopHost } from './runtime/loop.ts';
export { isLoopEvent } from './runtime/loop.ts';
export { createLoop, type Loop, type LoopOptions } from './loops/loop.ts';
export type { FeedbackLoop, PolicyVersion, PolicyDocument } from './loops/types.ts';
