/**
 * The static graph of a topology: indices, effective edges with their gates,
 * topological order. Built once per topology, shared by validation, the runtime
 * and the `graph` renderers. Never throws: problems are returned as issues.
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
  const index = new Map<string, number>();
  t.nodes.forEach((n, i) => {
    const first = index.get(n.id);
    if (first !== undefined) issues.push({ code: 'duplicate_id', path: ['nodes', i, 'id'], message: `duplicate node id '${n.id}' (first used by nodes.${first})` });
    else index.set(n.id, i);
  });
  const n = t.nodes.length;
  // edge gates keyed by "from>to"; a branch or error gate overrides a plain `after` edge.
  const gates = new Map<string, Gate>();
  const setGate = (from: number, to: number, gate: Gate): void => {
    const key = `${from}>${to}`;
    const prev = gates.get(key);
    if (gate.kind === 'branch' && prev?.kind === 'branch') {
      gates.set(key, { kind: 'branch', branches: new Set([...prev.branches, ...gate.branches]) });
    } else if (prev === undefined || prev.kind === 'always' || prev.kind === 'success') {
      gates.set(key, gate);
    }
  };
  t.nodes.forEach((node, to) => {
    if (index.get(node.id) !== to) return; // duplicate: ignored
    const seen = new Set<string>();
    node.after.forEach((dep, k) => {
      const from = index.get(dep);
      if (seen.has(dep)) issues.push({ code: 'duplicate_dependency', path: ['nodes', to, 'after', k], message: `'${dep}' is listed twice` });
      seen.add(dep);
      if (from === undefined) {
        issues.push({ code: 'missing_dependency', path: ['nodes', to, 'after', k], message: `node '${node.id}' depends on missing node '${dep}'` });
        return;
      }
      setGate(from, to, t.nodes[from]!.onError !== undefined ? SUCCESS : ALWAYS);
    });
  });
  t.nodes.forEach((node, from) => {
    if (index.get(node.id) !== from) return;
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
      else gates.set(`${src}>${from}`, STREAM);
    }
    if (node.onError !== undefined) {
      const to = index.get(node.onError);
      if (to === undefined) issues.push({ code: 'missing_error_target', path: ['nodes', from, 'onError'], message: `node '${node.id}' has onError target missing node '${node.onError}'` });
      else gates.set(`${from}>${to}`, ERROR);
    }
  });
  const out: Edge[][] = Array.from({ length: n }, () => []);
  const inc: Edge[][] = Array.from({ length: n }, () => []);
  for (const [key, gate] of gates) {
    const [a, b] = key.split('>').map(Number) as [number, number];
    const e: Edge = { from: a, to: b, gate };
    out[a]!.push(e);
    inc[b]!.push(e);
  }
  for (const list of out) list.sort((x, y) => x.to - y.to);
  for (const list of inc) list.sort((x, y) => x.from - y.from);
  const order = topoOrder(n, out, inc);
  return { graph: { ids: t.nodes.map((x) => x.id), index, nodes: t.nodes, out, in: inc, order }, issues };
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

/**
 * Finds the distinct cycles of a graph, each as a closed path of ids
 * (`['draft', 'verify', 'draft']`).
 *
 * @example
 * ```ts
 * findCycles(graph).map((c) => c.join(' -> ')); // ['draft -> verify -> draft']
 * ```
 */
export function findCycles(g: Graph): string[][] {
  const n = g.ids.length;
  const color = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const stack: number[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (v: number): void => {
    color[v] = 1;
    stack.push(v);
    for (const e of g.out[v]!) {
      if (color[e.to] === 1) {
        const cyc = stack.slice(stack.indexOf(e.to));
        const key = [...cyc].sort((a, b) => a - b).join(',');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cyc, e.to].map((i) => g.ids[i]!));
        }
      } else if (color[e.to] === 0) visit(e.to);
    }
    stack.pop();
    color[v] = 2;
  };
  for (let i = 0; i < n; i++) if (color[i] === 0) visit(i);
  return cycles;
}
