/**
 * How the CLI finds a topology: a TypeScript/JavaScript module (default export or
 * `topology` export, plus optional `engineOptions`), or a JSON/YAML document whose
 * operators come from an ops module (`--ops`, or `<name>.ops.ts` beside it).
 * @module
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Issue } from '../errors.ts';
import { isTopologyError } from '../errors.ts';
import { createRegistry, isRegistry, type Registry } from '../documents/registry.ts';
import { loadTopologyFile } from '../documents/load.ts';
import type { AnyTopology } from '../definition/types.ts';
import type { EngineOptions } from '../runtime/engine.ts';

/** A loaded topology and the engine options its module asks for. */
export type Loaded =
  | { readonly ok: true; readonly topology: AnyTopology; readonly engineOptions: EngineOptions }
  | { readonly ok: false; readonly issues: readonly Issue[] };

const isTopology = (v: unknown): v is AnyTopology =>
  typeof v === 'object' && v !== null && typeof (v as AnyTopology).name === 'string' && Array.isArray((v as AnyTopology).nodes);

async function importModule(file: string): Promise<{ ok: true; mod: Record<string, unknown> } | { ok: false; issues: Issue[] }> {
  try {
    return { ok: true, mod: (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown> };
  } catch (e) {
    if (isTopologyError(e)) return { ok: false, issues: [...e.issues] };
    return { ok: false, issues: [{ code: 'load_failed', path: [], message: `cannot load ${file}: ${(e as Error).message}` }] };
  }
}

/**
 * Loads a topology file for the CLI.
 *
 * @example
 * ```ts
 * const l = await loadForCli('topologies/rag.yaml');
 * ```
 */
export async function loadForCli(file: string, opsFile?: string): Promise<Loaded> {
  if (!existsSync(file)) return { ok: false, issues: [{ code: 'file_not_found', path: [], message: `no such file: ${file}` }] };
  const ext = extname(file).toLowerCase();
  if (['.ts', '.mts', '.js', '.mjs'].includes(ext)) {
    const m = await importModule(file);
    if (!m.ok) return m;
    const t = m.mod['default'] ?? m.mod['topology'];
    if (!isTopology(t)) return { ok: false, issues: [{ code: 'no_topology_export', path: [], message: `${file} exports no topology (export default topology(...).build())` }] };
    return { ok: true, topology: t, engineOptions: (m.mod['engineOptions'] as EngineOptions | undefined) ?? {} };
  }
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    return { ok: false, issues: [{ code: 'unsupported_file_type', path: [], message: `unsupported file type '${ext}' (use .ts, .js, .json, .yaml or .yml)` }] };
  }
  let registry: Registry = createRegistry();
  let engineOptions: EngineOptions = {};
  const ops = opsFile ?? ['.ops.ts', '.ops.js', '.ops.mjs'].map((s) => join(dirname(file), basename(file, extname(file)) + s)).find((p) => existsSync(p));
  if (ops !== undefined) {
    const m = await importModule(ops);
    if (!m.ok) return m;
    const r = m.mod['default'] ?? m.mod['registry'];
    if (!isRegistry(r)) return { ok: false, issues: [{ code: 'no_registry_export', path: [], message: `${ops} must export default a registry (createRegistry())` }] };
    registry = r;
    engineOptions = (m.mod['engineOptions'] as EngineOptions | undefined) ?? {};
  }
  const parsed = await loadTopologyFile(file, registry);
  return parsed.ok ? { ok: true, topology: parsed.topology, engineOptions } : parsed;
}
