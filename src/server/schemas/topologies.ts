/**
 * Schemas of `GET /v1/me` and `GET /v1/topologies`: the caller, and the served topologies with their graphs.
 * @module
 */
import * as z from 'zod';
import { RoleSchema } from '../access.ts';
import { text } from './common.ts';

/**
 * Schema of one node of a topology's graph: id, kind (`llm`, `tool`, `map`, `join`, `route`,
 * `fanOut`, `wait`, ...) and the nodes it runs after.
 *
 * @example
 * ```ts
 * GraphNodeSchema.parse({ id: 'draft', kind: 'llm', after: ['retrieve'] });
 * ```
 */
export const GraphNodeSchema = z.object({
  id: z.string(),
  kind: z.string(),
  after: z.array(z.string()),
  /** A `wait` node's signal: its name, the JSON Schema of its payload, its timeout. */
  signal: z.object({
    name: z.string(),
    payload: z.record(z.string(), z.unknown()).optional().describe('JSON Schema of the payload `POST /v1/runs/{id}/signals/{name}` takes'),
    timeoutMs: z.number().optional(),
  }).optional(),
}).meta({ id: 'GraphNode' });

/**
 * Schema of one edge of the effective graph (`after` edges, route branches, `onError`
 * targets, token streams) and its gate: when it lets the child run. `branches`: a route's
 * branches the edge belongs to (gate `branch`).
 *
 * @example
 * ```ts
 * GraphEdgeSchema.parse({ from: 'route', to: 'short', gate: 'branch', branches: ['short'] });
 * ```
 */
export const GraphEdgeSchema = z.object({
  from: z.string(),
  to: z.string(),
  gate: z.enum(['always', 'success', 'error', 'branch', 'stream']),
  branches: z.array(z.string()).optional(),
}).meta({ id: 'GraphEdge' });

/**
 * Schema of a served topology (`TopologyView`): name, version, description and its graph.
 *
 * @example
 * ```ts
 * const t = TopologyViewSchema.parse(await (await fetch(`${url}/v1/topologies/rag`, { headers })).json());
 * ```
 */
export const TopologyViewSchema = z.object({
  name: z.string(),
  version: z.string(),
  description: z.string().optional(),
  input: z.record(z.string(), z.unknown()).optional().describe('JSON Schema of the input `POST /v1/runs` takes for this topology (none: any input)'),
  nodes: z.array(GraphNodeSchema),
  edges: z.array(GraphEdgeSchema),
}).meta({ id: 'TopologyView' });

/**
 * A served topology as the API shows it.
 *
 * @example
 * ```ts
 * const ids = (t: TopologyView) => t.nodes.map((n) => n.id);
 * ```
 */
export type TopologyView = z.infer<typeof TopologyViewSchema>;

/**
 * Schema of the topologies the caller has a role on.
 *
 * @example
 * ```ts
 * const { topologies } = TopologyListSchema.parse(await res.json());
 * ```
 */
export const TopologyListSchema = z.object({ topologies: z.array(TopologyViewSchema) }).meta({ id: 'TopologyList' });

/**
 * Schema of the path `/v1/topologies/:name`.
 *
 * @example
 * ```ts
 * TopologyParamsSchema.parse({ name: 'rag' });
 * ```
 */
export const TopologyParamsSchema = z.object({ name: text().min(1) });

/**
 * Schema of `GET /v1/me`: the caller's key id, tenant, roles and name.
 *
 * @example
 * ```ts
 * const me = MeSchema.parse(await (await fetch(`${url}/v1/me`, { headers })).json());
 * ```
 */
export const MeSchema = z.object({
  keyId: z.string(),
  tenant: z.string(),
  roles: z.record(z.string(), RoleSchema),
  name: z.string().optional(),
}).meta({ id: 'Me' });
