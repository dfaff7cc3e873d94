/**
 * How the CLI finds a topology: a TypeScript/JavaScript module (default export or
 * `topology` export, plus optional `engineOptions`), or a JSON/YAML document whose
 * operators come from an ops module (`--ops`, or `<name>.ops.{ts,mts,js,mjs}` beside it).
 * The JSON/YAML reader (yaml, zod) is imported only for documents, and TypeScript
 * support only for `.ts` files.
 * @module
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTopologyError, type Issue } from '../errors.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { EngineOptions } from '../runtime/engine.ts';
import { enableTypeScript, isTypeScriptFile } from './typescript.ts';

/**
 * A loaded topology and the engine options its module asks for, or the issues.
 *
 * @example
 * ```ts
 * const l: Loaded = await loadForCli('topologies/rag.ts');
 * if (l.ok) console.log(l.topology.name);
 * ```
 */
export type Loaded =
  | { readonly ok: true; readonly topology: AnyTopology; readonly engineOptions: EngineOptions }
  | { readonly ok: false; readonly issues: readonly Issue[] };

const MODULES = ['.ts', '.mts', '.js', '.mjs'];
const DOCUMENTS = ['.json', '.yaml', '.yml'];
const OPS_SUFFIXES = ['.ops.ts', '.ops.mts', '.ops.js', '.ops.mjs'];

const isTopology = (v: unknown): v is AnyTopology =>
  typeof v === 'object' && v !== null && typeof (v as AnyTopology).name === 'string' && Array.isArray((v as AnyTopology).nodes);

const issue = (code: string, message: string): { ok: false; issues: Issue[] } => ({ ok: false, issues: [{ code, path: [], message }] });

async function importModule(file: string): Promise<{ ok: true; mod: Record<string, unknown> } | { ok: false; issues: Issue[] }> {
  let load = (url: string): Promise<unknown> => import(url);
  if (isTypeScriptFile(file)) {
    const ts = await enableTypeScript();
    if (!ts.ok) return issue('typescript_unavailable', `cannot load ${file}: ${ts.message}`);
    load = (url) => ts.load(url, import.meta.url);
  }
  try {
    return { ok: true, mod: esExports((await load(pathToFileURL(resolve(file)).href)) as Record<string, unknown>) };
  } catch (e) {
    if (isTopologyError(e)) return { ok: false, issues: [...e.issues] };
    return issue('load_failed', `cannot load ${file}: ${(e as Error).message}`);
  }
}

/**
 * The ES exports of a loaded module. A `.ts` file in a CommonJS package (`"type": "commonjs"`, what
 * `npm init` writes) is compiled to CommonJS: importing it gives its `module.exports` as `default`,
 * marked `__esModule`, with the file's own `export default` inside.
 */
function esExports(mod: Record<string, unknown>): Record<string, unknown> {
  const inner = mod['default'] as { __esModule?: unknown } | null | undefined;
  return typeof inner === 'object' && inner !== null && inner.__esModule === true ? (inner as Record<string, unknown>) : mod;
}

/**
 * Loads a topology file for the CLI.
 *
 * @example
 * ```ts
 * const l = await loadForCli('topologies/rag.yaml'); // operators from topologies/rag.ops.ts
 * ```
 */
export async function loadForCli(file: string, opsFile?: string): Promise<Loaded> {
  if (!existsSync(file)) return issue('file_not_found', `no such file: ${file}`);
  const ext = extname(file).toLowerCase();
  if (MODULES.includes(ext)) {
    const m = await importModule(file);
    if (!m.ok) return m;
    const t = m.mod['default'] ?? m.mod['topology'];
    if (!isTopology(t)) return issue('no_topology_export', `${file} exports no topology (export default topology(...).build())`);
    return { ok: true, topology: t, engineOptions: (m.mod['engineOptions'] as EngineOptions | undefined) ?? {} };
  }
  if (!DOCUMENTS.includes(ext)) {
    return issue('unsupported_file_type', `unsupported file type '${ext}' (use .ts, .mts, .js, .mjs, .json, .yaml or .yml)`);
  }
  // Loaded before the ops module, so that its `llm-orchestrator/documents` import finds it ready.
  const [{ createRegistry, loadTopologyFile }, { isRegistry }] = await Promise.all([import('../documents/index.ts'), import('../documents/registry.ts')]);
  let registry = createRegistry();
  let engineOptions: EngineOptions = {};
  if (opsFile !== undefined && !existsSync(opsFile)) return issue('file_not_found', `no such ops module: ${opsFile}`);
  const ops = opsFile ?? OPS_SUFFIXES.map((s) => join(dirname(file), basename(file, extname(file)) + s)).find((p) => existsSync(p));
  if (ops !== undefined) {
    const m = await importModule(ops);
    if (!m.ok) return m;
    const r = m.mod['default'] ?? m.mod['registry'];
    if (!isRegistry(r)) return issue('no_registry_export', `${ops} must export default a registry (createRegistry())`);
    registry = r;
    engineOptions = (m.mod['engineOptions'] as EngineOptions | undefined) ?? {};
  }
  const parsed = await loadTopologyFile(file, registry);
  return parsed.ok ? { ok: true, topology: parsed.topology, engineOptions } : parsed;
}
