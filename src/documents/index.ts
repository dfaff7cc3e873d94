/**
 * `llm-orchestrator/documents`: topologies written as JSON or YAML, validated with
 * zod, with operators resolved by name from a registry.
 *
 * @example
 * ```ts
 * import { createRegistry, loadTopologyFile } from 'llm-orchestrator/documents';
 * const ops = createRegistry().map('upper', ({ input }) => String(input).toUpperCase());
 * const r = await loadTopologyFile('topologies/rag.yaml', ops);
 * ```
 * @module
 */
export { createRegistry, type Registry, type RegisteredFanOut, type OperatorFn } from './registry.ts';
export { parseTopology, loadTopologyFile, resolveArgs, TopologyDocSchema, type TopologyDoc, type ParseResult } from './load.ts';
