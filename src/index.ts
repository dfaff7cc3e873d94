/**
 * llm-orchestrator: multi-model LLM pipelines as reactive, backpressure-aware
 * RxJS stream topologies. Every export is named here.
 * @module
 */
export { topology, TopologyBuilder, type TopologyOptions, type DepsOf } from './definition/builder.ts';
export type {
  Topology, AnyTopology, NodeDef, NodeKind, NodeContext, Priority, Execute, ExecServices,
  InputOf, OutputsOf, OutputOf, StreamChunk,
} from './definition/types.ts';
export { createRegistry, Registry, type RegisteredFanOut } from './definition/registry.ts';
export { parseTopology, loadTopologyFile, TopologyDocSchema, type TopologyDoc, type ParseResult } from './definition/load.ts';
export { validateTopology, type Validation } from './compiler/validate.ts';
export { buildGraph, findCycles, type Graph, type Edge, type Gate } from './compiler/graph.ts';
export { renderGraph, type GraphFormat } from './compiler/render.ts';
export {
  createEngine, type Engine, type EngineOptions, type RunOptions, type StreamOptions, type ShutdownOptions, type ResultOf,
} from './runtime/engine.ts';
export type { RunResult, CompletedRun, FailedRun, CancelledRun, RunUsage } from './runtime/result.ts';
export type { UsageTotals } from './runtime/run.ts';
export type {
  Provider, ProviderEvent, CompletionRequest, ChatMessage, ToolCall, ToolDescription, Usage, FinishReason, RateLimitInfo,
} from './providers/types.ts';
export { createModels, Models, DEFAULT_PRICES, type Price, type ModelsOptions, type ResolvedModel } from './providers/models.ts';
export { createOpenAIProvider, type OpenAIProviderOptions } from './providers/openai.ts';
export { createAnthropicProvider, type AnthropicProviderOptions } from './providers/anthropic.ts';
export { createSimProvider, SIM_MODELS, type SimProviderOptions, type SimTiming, type SimResponse } from './providers/sim.ts';
export { RateLimiter, type RateLimits, type Reservation } from './providers/ratelimit.ts';
export { classifyFailure, parseRateLimit, STATUS_TABLE, CODE_TABLE, type Failure } from './providers/failures.ts';
export { countTextTokens, countMessageTokens } from './providers/tokens.ts';
export type {
  EngineEvent, TokenEvent, RestartEvent, UsageSummary, RunEvent, RunEventType, RunStartedEvent, RunCompletedEvent, RunFailedEvent, RunCancelledEvent,
  NodeStartedEvent, NodeCompletedEvent, NodeFailedEvent, NodeSkippedEvent, NodeResumedEvent,
} from './runtime/events.ts';
export type { InputSource } from './runtime/source.ts';
export { stage, type StageConfig } from './runtime/stage.ts';
export { Limiter, type LimiterOptions, type Level } from './runtime/limiter.ts';
export {
  OrchestratorError, ValidationError, TopologyError, NodeError, TimeoutError, CancelledError, RejectedError, ProviderError, StoppedError,
  isOrchestratorError, isValidationError, isTopologyError, isNodeError, isTimeoutError, isCancelledError, isRejectedError,
  isProviderError, isStoppedError, type ProviderErrorDetails,
  retriableOf, serializeError, formatIssues,
  type Issue, type SerializedError, type OrchestratorErrorOptions,
} from './errors.ts';
export {
  map, route, join, tool, defineTool, fanOut, subTopology, llm,
  type LlmSpec, type LlmOutput, type LlmToolCall,
  type MapSpec, type RouteSpec, type JoinSpec, type Tool, type ToolSpec, type FanOutSpec, type SubTopologySpec,
  type NodeOptions, type BaseSpec,
} from '../operators/index.ts';
export { traceEvents } from './observability/tracing.ts';
export { createMemoryTransport, type MemoryTransportOptions } from './transports/memory.ts';
export { createKafkaTransport, type KafkaTransportOptions } from './transports/kafka.ts';
export { topicNames, type Transport, type TopicNames, type Envelope, type ConsumeOptions, type Consumption } from './transports/transport.ts';
export { Codec, createCodec, SCHEMA_FILES, SCHEMA_HEADER, KIND_HEADER, type Encoded, type Decoded } from './transports/codec.ts';
export type {
  Messages, MessageKind, RunRequestMessage, RunResultMessage, TokenBatchMessage, LifecycleEventMessage, FeedbackMessage,
  PolicyUpdateMessage, AuditMessage, DeadLetterMessage, NodeTaskMessage, NodeResultMessage, UsageMessage,
} from './transports/messages.ts';
export { createWorker, type Worker, type WorkerOptions } from './worker/worker.ts';
export { createClient, type Client, type SubmitOptions } from './worker/client.ts';
export { publishEvents, type Publisher, type PublishOptions } from './worker/publisher.ts';
export { createRemoteExecutor, createRemoteWorker, type RemoteWorkerOptions } from './worker/remote.ts';
export { withRetries, type RetryOptions, type RetryBudget, type RetryHooks } from './resilience/retry.ts';
export { Breakers, type BreakerOptions, type BreakerState } from './resilience/breakers.ts';
export { Resilience, type ResilienceOptions, type BulkheadOptions } from './resilience/resilience.ts';
export { guardedCall, CallHooks, type GuardedCall } from './resilience/guard.ts';
export type { RemoteExecutor, RemoteTask, NodeNote, CompensationContext } from './definition/types.ts';
export type { BreakerEvent, NodeRetryEvent, NodeFallbackEvent, NodeCompensatedEvent, NodeCompensationFailedEvent } from './runtime/events.ts';
export { RetriesExhaustedError, CircuitOpenError, isRetriesExhaustedError, isCircuitOpenError } from './errors.ts';
