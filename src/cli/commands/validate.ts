/**
 * `llmo validate <topology>`: loads and compiles a topology without running it.
 * @module
 */
import { serializeError } from '../../errors.ts';
import { createEngine } from '../../runtime/engine.ts';
import { EXIT } from '../exit.ts';
import { reportIssues, type Io } from '../io.ts';
import { loadForCli } from '../load.ts';
import { modelsFromEnv } from '../env.ts';

/**
 * Checks `file`; resolves with the exit code (0 valid, 2 invalid).
 *
 * @example
 * ```ts
 * const code = await validateCommand('topologies/rag.yaml', {}, io);
 * ```
 */
export async function validateCommand(file: string, opts: { readonly ops?: string }, io: Io): Promise<number> {
  const loaded = await loadForCli(file, opts.ops);
  if (!loaded.ok) return reportIssues(io, file, loaded.issues);
  try {
    createEngine({ models: modelsFromEnv(io.env ?? process.env).models, ...loaded.engineOptions }).compile(loaded.topology);
  } catch (e) {
    const s = serializeError(e);
    return reportIssues(io, file, s.issues ?? [{ code: s.code, path: [], message: s.message }]);
  }
  io.out.write(`${file}: topology '${loaded.topology.name}' is valid (${loaded.topology.nodes.length} nodes)\n`);
  return EXIT.ok;
}
