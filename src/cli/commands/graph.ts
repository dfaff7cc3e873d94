/**
 * `llmo graph <topology>`: prints the topology as a Mermaid or Graphviz DOT graph.
 * @module
 */
import { renderGraph, type GraphFormat } from '../../compiler/render.ts';
import { EXIT } from '../exit.ts';
import { reportIssues, type Io } from '../io.ts';
import { loadForCli } from '../load.ts';

/**
 * Renders `file`; resolves with the exit code.
 *
 * @example
 * ```ts
 * const code = await graphCommand('topologies/rag.ts', { format: 'dot' }, io);
 * ```
 */
export async function graphCommand(file: string, opts: { readonly format: GraphFormat; readonly ops?: string }, io: Io): Promise<number> {
  const loaded = await loadForCli(file, opts.ops);
  if (!loaded.ok) return reportIssues(io, file, loaded.issues);
  io.out.write(renderGraph(loaded.topology, opts.format));
  return EXIT.ok;
}
