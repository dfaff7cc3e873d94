/**
 * What the API shows of the engine's data: a topology with its compiled graph, a
 * stored run's row as a summary, a run with its folded state, a fold at one `seq`.
 * Pure functions from the engine's shapes to the reply schemas' shapes.
 * @module
 */
import * as z from 'zod';
import { buildGraph } from '../compiler/graph.ts';
import type { AnyTopology, Topology } from '../definition/types.ts';
import type { FoldedNode, FoldedRun } from '../runtime/fold.ts';
import type { RunRecord } from '../runtime/store.ts';
import { topologyVersion } from '../runtime/version.ts';
import type { UsageTotals } from '../providers/types.ts';
import type { RunSummary, RunView } from './schemas/runs.ts';
import type { TopologyView } from './schemas/topologies.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A topology as `GET /v1/topologies` shows it: its nodes (id, kind, `after`) and the
 * effective edges of its compiled graph (route branches, error targets, token streams included).
 *
 * @example
 * ```ts
 * const view = topologyView(rag); // { name: 'rag', version: 'v2:…', nodes: [...], edges: [...] }
 * ```
 */
export function topologyView(topology: AnyTopology): TopologyView {
  const t = topology as Topology;
  const { graph } = buildGraph(t);
  const view: Mutable<TopologyView> = {
    name: t.name,
    version: topologyVersion(t),
    nodes: t.nodes.map((n) => {
      const node: Mutable<TopologyView['nodes'][number]> = { id: n.id, kind: n.kind, after: [...n.after] };
      if (n.wait !== undefined) {
        const payload = jsonSchemaOf(n.wait.schema);
        node.signal = { name: n.wait.name, ...(payload === undefined ? {} : { payload }), ...(n.wait.timeoutMs === undefined ? {} : { timeoutMs: n.wait.timeoutMs }) };
      }
      return node;
    }),
    edges: graph.out.flat().map((e) => ({
      from: graph.ids[e.from]!, to: graph.ids[e.to]!, gate: e.gate.kind,
      ...(e.gate.kind === 'branch' ? { branches: [...e.gate.branches] } : {}),
    })),
  };
  if (t.description !== undefined) view.description = t.description;
  const input = t.input === undefined ? undefined : jsonSchemaOf(t.input);
  if (input !== undefined) view.input = input;
  return view;
}

/** What a zod schema accepts, as JSON Schema (parts JSON Schema cannot say, such as a refinement, accept anything); none when it cannot be drawn. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> | undefined {
  try {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    return rest;
  } catch {
    return undefined;
  }
}

/**
 * What a run's summary adds to its row when known: its token totals and experiment variant.
 *
 * @example
 * ```ts
 * const extra: SummaryExtra = { usage: folded.usage, variant: folded.decision?.variant };
 * ```
 */
export interface SummaryExtra {
  readonly usage?: UsageTotals | undefined;
  readonly variant?: string | undefined;
}

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/**
 * A stored run's row as a {@link RunSummary}.
 *
 * @example
 * ```ts
 * const s = runSummary((await engine.runs.get('r-1'))!);
 * ```
 */
export function runSummary(rec: RunRecord, extra: SummaryExtra = {}): RunSummary {
  const s: Mutable<RunSummary> = {
    runId: rec.runId, topology: rec.topology, version: rec.version, status: rec.status,
    createdAt: rec.createdAt, updatedAt: rec.updatedAt, lastSeq: rec.lastSeq,
  };
  if (rec.forkOf !== undefined) s.forkOf = { runId: rec.forkOf.runId, nodeId: rec.forkOf.nodeId };
  if (rec.wait !== undefined) s.wait = { nodeId: rec.wait.nodeId, name: rec.wait.name, ...(rec.wait.timeoutAt === undefined ? {} : { timeoutAt: rec.wait.timeoutAt }) };
  if (rec.error !== undefined) s.error = errorView(rec.error);
  if (ENDED.has(rec.status)) s.durationMs = Math.max(0, rec.updatedAt - rec.createdAt);
  if (extra.usage !== undefined) s.usage = usageView(extra.usage);
  if (extra.variant !== undefined) s.variant = extra.variant;
  return s;
}

/**
 * A run's row and its fold (as of its last event) as a {@link RunView}.
 *
 * @example
 * ```ts
 * const view = runView(rec, await engine.runs.stateAt(rec.runId, { seq: rec.lastSeq }));
 * ```
 */
export function runView(rec: RunRecord, folded: FoldedRun | undefined): RunView {
  const v: Mutable<RunView> = {
    ...runSummary(rec, { usage: folded?.usage, variant: folded?.decision?.variant }),
    input: rec.input,
    nodes: folded === undefined ? {} : nodesView(folded.nodes),
  };
  const output = rec.output !== undefined ? rec.output : folded?.output;
  if (output !== undefined) v.output = output;
  return v;
}

/**
 * A fold as `GET /v1/runs/:id/state` shows it.
 *
 * @example
 * ```ts
 * const at3 = stateView(await engine.runs.stateAt('r-1', { seq: 3 }), 3);
 * ```
 */
export function stateView(folded: FoldedRun, seq: number): {
  seq: number; status: FoldedRun['status']; nodes: Record<string, NodeView>; output?: unknown; error?: ReturnType<typeof errorView>; usage?: ReturnType<typeof usageView>;
} {
  return {
    seq, status: folded.status, nodes: nodesView(folded.nodes),
    ...(folded.output === undefined ? {} : { output: folded.output }),
    ...(folded.error === undefined ? {} : { error: errorView(folded.error) }),
    ...(folded.usage === undefined ? {} : { usage: usageView(folded.usage) }),
  };
}

/**
 * A node's state as the API shows it.
 *
 * @example
 * ```ts
 * const n: NodeView = { status: 'completed', output: 'Hi', starts: 1 };
 * ```
 */
export interface NodeView {
  status: FoldedNode['status'];
  output?: unknown;
  error?: ReturnType<typeof errorView>;
  starts: number;
}

function nodesView(nodes: Readonly<Record<string, FoldedNode>>): Record<string, NodeView> {
  const out: Record<string, NodeView> = {};
  for (const [id, n] of Object.entries(nodes)) {
    const v: NodeView = { status: n.status, starts: n.starts };
    if (n.output !== undefined) v.output = n.output;
    if (n.error !== undefined) v.error = errorView(n.error);
    out[id] = v;
  }
  return out;
}

/**
 * A serialized error as plain JSON (its cause kept as an object).
 *
 * @example
 * ```ts
 * const e = errorView(rec.error!);
 * ```
 */
export function errorView(e: { readonly name: string; readonly code: string; readonly message: string; readonly retriable: boolean; readonly nodeId?: string; readonly issues?: readonly { readonly code: string; readonly path: readonly PropertyKey[]; readonly message: string }[]; readonly cause?: unknown }): {
  name: string; code: string; message: string; retriable: boolean; nodeId?: string; issues?: { code: string; path: (string | number)[]; message: string }[]; cause?: Record<string, unknown>;
} {
  return {
    name: e.name, code: e.code, message: e.message, retriable: e.retriable,
    ...(e.nodeId === undefined ? {} : { nodeId: e.nodeId }),
    ...(e.issues === undefined ? {} : { issues: e.issues.map((i) => ({ code: i.code, path: i.path.map((p) => (typeof p === 'number' ? p : String(p))), message: i.message })) }),
    ...(typeof e.cause === 'object' && e.cause !== null ? { cause: e.cause as Record<string, unknown> } : {}),
  };
}

/**
 * Token totals as plain JSON.
 *
 * @example
 * ```ts
 * const u = usageView(result.usage);
 * ```
 */
export function usageView(u: UsageTotals): { inputTokens: number; outputTokens: number; cachedTokens: number; reasoningTokens: number; costUsd: number; calls: number } {
  return { inputTokens: u.inputTokens, outputTokens: u.outputTokens, cachedTokens: u.cachedTokens ?? 0, reasoningTokens: u.reasoningTokens ?? 0, costUsd: u.costUsd, calls: u.calls };
}
