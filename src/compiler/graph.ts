/**
 * The static graph of a topology: indices, effective edges with their gates,
 * topological order. Built once per topology, shared by validation, the runtime
 * and the `graph` renderers. Never throws: problems are returned as issues.
 * Nothing recurses: a graph of any depth needs no call stack (cycles: see `cycles.ts`).
 * @module
 */
import type { Issue } from '../errors.ts';
import type { NodeDef, Topology } from '../definition/types.ts';

/** When an edge from a parent lets its child run. */
export type Gate =
  | { readonly kind: 'always' }
  | { readonly kind: 'branch'; readonly branches: ReadonlySet<string> }
  | { readonly kind: 'success' }
  | { readonly kind: 'error' }
  /** Streaming edge: opens when the parent starts, not when it ends. */
  | { readonly kind: 'stream' };

/** One edge of the effective graph. */
export interface Edge {
  readonly from: number;
  readonly to: number;
  readonly gate: Gate;
}

/** The static graph. Arrays are indexed by node index (the order of `topology.nodes`). */
export interface Graph {
  readonly ids: readonly string[];
  readonly index: ReadonlyMap<string, number>;
  readonly nodes: readonly NodeDef[];
  /** Outgoing edges per node. */
  readonly out: readonly (readonly Edge[])[];
  /** Incoming edges per node. */
  readonly in: readonly (readonly Edge[])[];
  /** Topological order, or undefined when the graph has a cycle. */
  readonly order: readonly number[] | undefined;
}

const ALWAYS: Gate = { kind: 'always' };
const SUCCESS: Gate = { kind: 'success' };
const ERROR: Gate = { kind: 'error' };
const STREAM: Gate = { kind: 'stream' };

/**
 * Builds the effective graph: `after` edges, plus implicit edges from a route to
 * its branch targets and from a node to its `onError` target. Unknown ids and
 * duplicates are reported as issues and left out of the edges.
 *
 * @example
 * ```ts
 * const { graph, issues } = buildGraph(topology);
 * ```
 */
export function buildGraph(t: Pick<Topology, 'nodes'>): { graph: Graph; issues: Issue[] } {
  const issues: Issue[] = [];
  const nodes = t.nodes;
  const n = nodes.length;
  const index = new Map<string, number>();
  const ids: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const id = nodes[i]!.id;
    ids[i] = id;
    const first = index.get(id);
    if (first !== undefined) issues.push({ code: 'duplicate_id', path: ['nodes', i, 'id'], message: `duplicate node id '${id}' (first used by nodes.${first})` });
    else index.set(id, i);
  }
  // edge gates per source node, keyed by target; a branch or error gate overrides a plain `after` edge.
  const gates: (Map<number, Gate> | undefined)[] = new Array<Map<number, Gate> | undefined>(n);
  const put = (from: number, to: number, gate: Gate): void => {
    (gates[from] ??= new Map()).set(to, gate);
  };
  const setGate = (from: number, to: number, gate: Gate): void => {
    const prev = gates[from]?.get(to);
    if (gate.kind === 'branch' && prev?.kind === 'branch') {
      put(from, to, { kind: 'branch', branches: new Set([...prev.branches, ...gate.branches]) });
    } else if (prev === undefined || prev.kind === 'always' || prev.kind === 'success') {
      put(from, to, gate);
    }
  };
  for (let to = 0; to < n; to++) {
    const node = nodes[to]!;
    if (index.get(node.id) !== to) continue; // duplicate: ignored
    const after = node.after;
    const seen = after.length > 1 ? new Set<string>() : undefined;
    for (let k = 0; k < after.length; k++) {
      const dep = after[k]!;
      if (seen !== undefined) {
        if (seen.has(dep)) issues.push({ code: 'duplicate_dependency', path: ['nodes', to, 'after', k], message: `'${dep}' is listed twice` });
        seen.add(dep);
      }
      const from = index.get(dep);
      if (from === undefined) {
        issues.push({ code: 'missing_dependency', path: ['nodes', to, 'after', k], message: `node '${node.id}' depends on missing node '${dep}'` });
        continue;
      }
      setGate(from, to, nodes[from]!.onError !== undefined ? SUCCESS : ALWAYS);
    }
  }
  for (let from = 0; from < n; from++) {
    const node = nodes[from]!;
    if (index.get(node.id) !== from) continue;
    if (node.branches) {
      for (const [branch, targets] of Object.entries(node.branches)) {
        targets.forEach((target, k) => {
          const to = index.get(target);
          if (to === undefined) {
            issues.push({ code: 'missing_branch_target', path: ['nodes', from, 'branches', branch, k], message: `route '${node.id}' branch '${branch}' targets missing node '${target}'` });
          } else setGate(from, to, { kind: 'branch', branches: new Set([branch]) });
        });
      }
    }
    if (node.streamFrom !== undefined) {
      const src = index.get(node.streamFrom);
      if (src === undefined) issues.push({ code: 'missing_stream_source', path: ['nodes', from, 'streamFrom'], message: `node '${node.id}' streams from missing node '${node.streamFrom}'` });
      else put(src, from, STREAM);
    }
    if (node.onError !== undefined) {
      const to = index.get(node.onError);
      if (to === undefined) issues.push({ code: 'missing_error_target', path: ['nodes', from, 'onError'], message: `node '${node.id}' has onError target missing node '${node.onError}'` });
      else put(from, to, ERROR);
    }
  }
  const out: Edge[][] = new Array<Edge[]>(n);
  const inc: Edge[][] = new Array<Edge[]>(n);
  for (let i = 0; i < n; i++) {
    out[i] = [];
    inc[i] = [];
  }
  // sources in ascending order: every `inc` list comes out sorted by `from`
  for (let from = 0; from < n; from++) {
    const targets = gates[from];
    if (targets === undefined) continue;
    const list = out[from]!;
    for (const [to, gate] of targets) {
      const e: Edge = { from, to, gate };
      list.push(e);
      inc[to]!.push(e);
    }
    if (list.length > 1) list.sort((x, y) => x.to - y.to);
  }
  const order = topoOrder(n, out, inc);
  return { graph: { ids, index, nodes, out, in: inc, order }, issues };
}

function topoOrder(n: number, out: readonly (readonly Edge[])[], inc: readonly (readonly Edge[])[]): number[] | undefined {
  const indeg = inc.map((l) => l.length);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indeg[i] === 0) queue.push(i);
  const order: number[] = [];
  for (let h = 0; h < queue.length; h++) {
    const v = queue[h]!;
    order.push(v);
    for (const e of out[v]!) if (--indeg[e.to]! === 0) queue.push(e.to);
  }
  return order.length === n ? order : undefined;
}
