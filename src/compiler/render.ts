/**
 * Renders a topology's graph as Mermaid or Graphviz DOT, with route branches and
 * error edges labelled.
 * @module
 */
import type { Topology } from '../definition/types.ts';
import { buildGraph, type Edge } from './graph.ts';

/** Output formats of {@link renderGraph}. */
export type GraphFormat = 'mermaid' | 'dot';

const SHAPES: Record<string, [string, string]> = {
  map: ['[', ']'], tool: ['[[', ']]'], route: ['{', '}'], join: ['((', '))'], fanOut: ['[/', '/]'], topology: ['[[', ']]'],
};

function label(e: Edge): string | undefined {
  switch (e.gate.kind) {
    case 'branch': return [...e.gate.branches].join(' | ');
    case 'error': return 'on error';
    case 'stream': return 'tokens';
    default: return undefined;
  }
}

/**
 * Renders the graph.
 *
 * @example
 * ```ts
 * console.log(renderGraph(rag, 'mermaid'));
 * ```
 */
export function renderGraph(t: Topology, format: GraphFormat): string {
  const { graph } = buildGraph(t);
  const esc = (s: string): string => s.replace(/"/g, '\\"');
  const lines: string[] = [];
  if (format === 'mermaid') {
    lines.push('flowchart TD');
    t.nodes.forEach((n, i) => {
      const [a, b] = SHAPES[n.kind] ?? ['[', ']'];
      lines.push(`  n${i}${a}"${esc(n.id)}<br/><small>${n.kind}${n.cap ? ` cap ${n.cap}` : ''}</small>"${b}`);
    });
    graph.out.flat().forEach((e) => {
      const l = label(e);
      lines.push(l === undefined ? `  n${e.from} --> n${e.to}` : `  n${e.from} -- "${esc(l)}" --> n${e.to}`);
    });
  } else {
    lines.push(`digraph "${esc(t.name)}" {`, '  rankdir=TB;', '  node [fontname="Helvetica"];');
    t.nodes.forEach((n, i) => {
      const shape = n.kind === 'route' ? 'diamond' : n.kind === 'join' ? 'circle' : 'box';
      lines.push(`  n${i} [label="${esc(n.id)}\\n${n.kind}${n.cap ? ` cap ${n.cap}` : ''}", shape=${shape}];`);
    });
    graph.out.flat().forEach((e) => {
      const l = label(e);
      lines.push(l === undefined ? `  n${e.from} -> n${e.to};` : `  n${e.from} -> n${e.to} [label="${esc(l)}"${e.gate.kind === 'error' ? ', style=dashed, color=red' : ''}];`);
    });
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}
