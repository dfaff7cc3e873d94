/**
 * Cycles of a graph, found by one depth-first search with an explicit stack (no
 * recursion: a 100,000-node chain needs no call stack), and named as readable,
 * bounded paths.
 * @module
 */
import type { Graph } from './graph.ts';

/**
 * Called once per cycle: the cycle is `stack[start..]`, closed by an edge from the
 * last entry back to `stack[start]`. `stack` is the search's live stack: read it
 * during the call, copy what you keep.
 *
 * @example
 * ```ts
 * const sizes: number[] = [];
 * const visit: CycleVisitor = (stack, start) => sizes.push(stack.length - start);
 * eachCycle(graph, visit);
 * ```
 */
export type CycleVisitor = (stack: readonly number[], start: number) => void;

/**
 * Walks the graph depth-first, in node order and edge order, and reports every back
 * edge as a cycle. Each reported cycle has a distinct node set (a back edge is
 * examined once, and a stack slice ending at its top names one back edge), so
 * nothing needs deduplicating. O(nodes + edges) besides what `visit` does.
 *
 * @example
 * ```ts
 * eachCycle(graph, (stack, start) => console.log(stack.slice(start).map((i) => graph.ids[i])));
 * ```
 */
export function eachCycle(g: Pick<Graph, 'out'>, visit: CycleVisitor): void {
  const n = g.out.length;
  const state = new Uint8Array(n); // 0 new, 1 on the stack, 2 done
  const pos = new Int32Array(n); // stack position of a node on the stack
  const next = new Int32Array(n); // per stack depth: next outgoing edge to look at
  const stack: number[] = [];
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    pos[root] = 0;
    next[0] = 0;
    stack.push(root);
    while (stack.length > 0) {
      const depth = stack.length - 1;
      const v = stack[depth]!;
      const edges = g.out[v]!;
      const k = next[depth]!;
      if (k === edges.length) {
        stack.pop();
        state[v] = 2;
        continue;
      }
      next[depth] = k + 1;
      const w = edges[k]!.to;
      if (state[w] === 1) visit(stack, pos[w]!);
      else if (state[w] === 0) {
        state[w] = 1;
        pos[w] = stack.length;
        next[stack.length] = 0;
        stack.push(w);
      }
    }
  }
}

/**
 * Finds the distinct cycles of a graph, each as a closed path of ids
 * (`['draft', 'verify', 'draft']`). A self-loop is `['a', 'a']`.
 *
 * @example
 * ```ts
 * findCycles(graph).map((c) => c.join(' -> ')); // ['draft -> verify -> draft']
 * ```
 */
export function findCycles(g: Pick<Graph, 'ids' | 'out'>): string[][] {
  const cycles: string[][] = [];
  eachCycle(g, (stack, start) => {
    const path: string[] = [];
    for (let i = start; i < stack.length; i++) path.push(g.ids[stack[i]!]!);
    path.push(g.ids[stack[start]!]!);
    cycles.push(path);
  });
  return cycles;
}

/** Ids shown at the start of a long cycle before the middle is elided. */
const HEAD = 20;

/**
 * Names the cycle `stack[start..]` as `a -> b -> c -> a`. A cycle of more than
 * 22 nodes keeps its first 20 ids, its last one and the closing id, with the
 * count in between, so the message stays short whatever the graph's size.
 *
 * @example
 * ```ts
 * eachCycle(graph, (stack, start) => messages.push(`cycle: ${describeCycle(graph.ids, stack, start)}`));
 * // 'cycle: n0 -> n1 -> … -> n19 -> … (5000 nodes) … -> n4999 -> n0'
 * ```
 */
export function describeCycle(ids: readonly string[], stack: readonly number[], start: number): string {
  const size = stack.length - start;
  const name = (i: number): string => ids[stack[i]!]!;
  const shown: string[] = [];
  if (size <= HEAD + 2) {
    for (let i = start; i < stack.length; i++) shown.push(name(i));
  } else {
    for (let i = start; i < start + HEAD; i++) shown.push(name(i));
    shown.push(`… (${size} nodes) …`, name(stack.length - 1));
  }
  shown.push(name(start));
  return shown.join(' -> ');
}
