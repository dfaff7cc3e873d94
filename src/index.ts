/**
 * llm-orchestrator: multi-model LLM pipelines as reactive, backpressure-aware
 * RxJS stream topologies. Every export is named here.
 * @module
 */
export { topology, TopologyBuilder, type TopologyOptions, type DepsOf } from './definition/builder.ts';
export type {
  Topology, AnyTopology, NodeDef, NodeKind, NodeContext, Priority, Execute, ExecServices,
  InputOf, OutputsOf, OutputOf,
} from './definition/types.ts';
export { createRegistry, Registry, type RegisteredFanOut } from './definition/registry.ts';
export { parseTopology, loadTopologyFile, TopologyDocSchema, type TopologyDoc, type ParseResult } from './definition/load.ts';
export { validateTopology, type Validation } from './compiler/validate.ts';
export { buildGraph, findCycles, type Graph, type Edge, type Gate } from './compiler/graph.ts';
export { renderGraph, type GraphFormat } from './compiler/render.ts';
export {
  createEngine, type Engine, type EngineOptions, type RunOptions, type StreamOptions, type ShutdownOptions, type ResultOf,
} from './runtime/engine.ts';
export type { RunResult, CompletedRun, FailedRun, CancelledRun } from './runtime/result.ts';
export type {
  RunEvent, RunEventType, RunStartedEvent, RunCompletedEvent, RunFailedEvent, RunCancelledEvent,
  NodeStartedEvent, NodeCompletedEvent, NodeFailedEvent, NodeSkippedEvent, NodeResumedEvent,
} from './runtime/events.ts';
export type { InputSource } from './runtime/source.ts';
export { stage, type StageConfig } from './runtime/stage.ts';
export { Limiter, type LimiterOptions, type Level } from './runtime/limiter.ts';
export {
  OrchestratorError, ValidationError, TopologyError, NodeError, TimeoutError, CancelledError, RejectedError,
  isOrchestratorError, isValidationError, isTopologyError, isNodeError, isTimeoutError, isCancelledError, isRejectedError,
  retriableOf, serializeError, formatIssues,
  type Issue, type SerializedError, type OrchestratorErrorOptions,
} from './errors.ts';
export {
  map, route, join, tool, defineTool, fanOut, subTopology,
  type MapSpec, type RouteSpec, type JoinSpec, type Tool, type ToolSpec, type FanOutSpec, type SubTopologySpec,
  type NodeOptions, type BaseSpec,
} from '../operators/index.ts';
