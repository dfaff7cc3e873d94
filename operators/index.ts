/** Stage operators: one per file, each a factory of {@link NodeDef}s. @module */
export { map, type MapSpec } from './map.ts';
export { route, type RouteSpec } from './route.ts';
export { join, type JoinSpec } from './join.ts';
export { tool, defineTool, type Tool, type ToolSpec } from './tool.ts';
export { fanOut, type FanOutSpec } from './fanOut.ts';
export { subTopology, type SubTopologySpec } from './subTopology.ts';
export { wait, type WaitSpec } from './wait.ts';
export { llm, type LlmSpec, type LlmOutput, type LlmToolCall, type CallTimeouts } from './llm.ts';
export { DEFAULT_OUTPUT_ALLOWANCE, estimateCall } from './internal/guarded.ts';
export type { NodeOptions, BaseSpec } from './internal/common.ts';
