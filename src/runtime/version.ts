/**
 * Topology versions: a stable hash of a topology's definition, recorded with every
 * durable run so recovery never resumes a run under a definition it did not start with.
 * @module
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { AnyTopology, NodeDef, Topology } from '../definition/types.ts';
import type { Issue } from '../errors.ts';

/** Hash formulas: `v2` (the definition only) and `v1` (also the node kinds' own `execute` text). */
type Formula = 'v2' | 'v1';

const caches: Record<Formula, WeakMap<Topology, string>> = { v2: new WeakMap(), v1: new WeakMap() };

/**
 * The version of a topology, recorded with each of its durable runs: its own
 * {@link Topology.version} when it has one, else `v2:` and the sha256 (hex) of its definition — name,
 * declared output, admission limit, input schema, experiment (variants, weights, what
 * each variant changes; a topology without one hashes as before experiments existed), and per node its id, kind, edges
 * (`after`, branches, `onError`, `streamFrom`), settings, config, prompt and model
 * settings, output schema (as JSON Schema), and the source text of the functions of the
 * spec it was built from (a node made without a spec: of its `execute`). Sub-topologies
 * count by their own version. The same definition gives the same version in any process and
 * under any build of this library (compiled or run from source, this release or the next):
 * the node kinds' own code is not part of it. Changing a prompt, an edge or a function's code
 * gives another one. Values a function captures from its scope are not seen: only its source text
 * is (as the running build printed it: another compiler may print it otherwise; give the topology
 * a `version` of your own where that matters).
 *
 * @example
 * ```ts
 * const v = topologyVersion(rag); // 'v2:4f1c…'
 * ```
 */
export function topologyVersion(topology: AnyTopology): string {
  const t = topology as Topology;
  return t.version ?? versionOf(t, 'v2');
}

/**
 * Every version whose runs this definition resumes: its own ({@link topologyVersion} first,
 * then its computed `v2:` hash when it has a version of its own, then the `v1:` version earlier
 * releases recorded, which also hashed the node kinds' own code), then those it declares in
 * {@link Topology.resumes}.
 *
 * @example
 * ```ts
 * topologyVersions(rag).includes(record.version); // this definition resumes that run
 * ```
 */
export function topologyVersions(topology: AnyTopology): readonly string[] {
  const t = topology as Topology;
  return [...ownVersions(t), ...(t.resumes ?? [])];
}

/**
 * The versions a run of this very definition may have been recorded under (what
 * {@link topologyVersions} lists before the `resumes`).
 *
 * @example
 * ```ts
 * ownVersions(rag); // ['v2:4f1c…', 'v1:9a0b…']
 * ```
 */
export function ownVersions(t: Topology): readonly string[] {
  const hashed = [versionOf(t, 'v2'), versionOf(t, 'v1')];
  return t.version === undefined ? hashed : [t.version, ...hashed];
}

/**
 * Whether `version` is a hash of this very definition (`v2:` or `v1:`), so a run recorded under
 * it has only nodes this definition has; a version of your own or one it `resumes` says less.
 *
 * @example
 * ```ts
 * isHashOf(rag, topologyVersion(rag)); // true unless rag has a `version` of its own
 * ```
 */
export function isHashOf(t: Topology, version: string): boolean {
  return version === versionOf(t, 'v2') || version === versionOf(t, 'v1');
}

/**
 * The issue when `t` takes a `version` of its own that another definition of the same name
 * already has (one engine cannot tell which of the two resumes that version's runs); none else.
 *
 * @example
 * ```ts
 * const clash = versionClash(next, registered);
 * if (clash !== undefined) throw new TopologyError(next.name, [clash]);
 * ```
 */
export function versionClash(t: Topology, others: Iterable<Topology>): Issue | undefined {
  if (t.version === undefined) return undefined;
  for (const o of others) {
    if (o !== t && o.name === t.name && o.version === t.version && versionOf(o, 'v2') !== versionOf(t, 'v2')) {
      return { code: 'version_taken', path: ['version'], message: `topology '${t.name}' version '${t.version}' is already registered with another definition: give this one another version` };
    }
  }
  return undefined;
}

/** How a sub-topology counts in its parent's hash: by its own version when it has one. */
function childVersion(t: Topology, formula: Formula): string {
  return t.version ?? versionOf(t, formula);
}

function versionOf(t: Topology, formula: Formula): string {
  const cache = caches[formula];
  let v = cache.get(t);
  if (v === undefined) {
    const canon = canonical({
      topology: t.name,
      output: t.output,
      maxInFlight: t.maxInFlight,
      input: t.input,
      experiment: t.experiment, // absent: no key at all, so versions of topologies without one stay as they were
      nodes: t.nodes.map((n) => nodeShape(n, formula)),
    }, new Set(), formula);
    v = `${formula}:${createHash('sha256').update(canon).digest('hex')}`;
    cache.set(t, v);
  }
  return v;
}

function nodeShape(n: NodeDef, formula: Formula): Record<string, unknown> {
  return {
    id: n.id, kind: n.kind, after: n.after, cap: n.cap, pools: n.pools, timeoutMs: n.timeoutMs, output: n.output, onError: n.onError,
    branches: n.branches, topology: n.topology === undefined ? undefined : childVersion(n.topology as Topology, formula), config: n.config, streamFrom: n.streamFrom,
    models: n.models, retry: n.retry, remote: n.remote, compensate: n.compensate,
    // the node kind's own code (v2: only for a node made without a spec, whose execute is the user's)
    execute: formula === 'v1' || n.source === undefined ? n.execute : undefined,
    source: n.source === undefined ? undefined : withoutTopology(n.source, formula),
  };
}

/** A sub-topology inside a spec counts by its version (already in `topology`), not by its nodes again. */
function withoutTopology(spec: Readonly<Record<string, unknown>>, formula: Formula): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) out[k] = isTopology(v) ? childVersion(v, formula) : v;
  return out;
}

function isTopology(v: unknown): v is Topology {
  return typeof v === 'object' && v !== null && 'name' in v && 'nodes' in v && Array.isArray(v.nodes);
}

/** Canonical JSON: sorted keys, functions by source text, zod schemas by JSON Schema, cycles cut. */
function canonical(v: unknown, seen: Set<object>, formula: Formula): string {
  if (v === undefined) return 'null';
  if (typeof v === 'function') return JSON.stringify(`fn:${String(v)}`);
  if (typeof v === 'bigint') return JSON.stringify(`big:${v.toString()}`);
  if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'null';
  if (seen.has(v)) return '"<cycle>"';
  if (v instanceof z.ZodType) return canonical({ schema: schemaJson(v) }, seen, formula);
  if (isTopology(v)) return JSON.stringify(`topology:${childVersion(v, formula)}`);
  seen.add(v);
  let out: string;
  if (Array.isArray(v)) out = `[${v.map((x) => canonical(x, seen, formula)).join(',')}]`;
  else if (v instanceof Set) out = `{"set":[${[...v].map((x) => canonical(x, seen, formula)).sort().join(',')}]}`;
  else if (v instanceof Map) out = `{"map":[${[...v].map(([k, x]) => `[${canonical(k, seen, formula)},${canonical(x, seen, formula)}]`).sort().join(',')}]}`;
  else if (v instanceof RegExp) out = JSON.stringify(`re:${String(v)}`);
  else {
    const keys = Object.keys(v).sort();
    const rec = v as Record<string, unknown>;
    out = `{${keys.filter((k) => rec[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(rec[k], seen, formula)}`).join(',')}}`;
  }
  seen.delete(v);
  return out;
}

/** A schema's JSON Schema; schemas JSON Schema cannot express (transforms, custom checks) count by their definition's shape. */
function schemaJson(s: z.ZodType): unknown {
  try {
    return z.toJSONSchema(s, { unrepresentable: 'any', io: 'input' });
  } catch {
    return { type: s.def.type };
  }
}
