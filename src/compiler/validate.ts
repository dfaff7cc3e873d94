/**
 * Static checks run before anything executes: ids, dependencies, caps, routes,
 * pools that cannot be held, cycles (named as paths), nodes or joins that can
 * never run, and the experiment (its shape, its traffic, the nodes its variants change). Returns data; never throws: nothing recurses per node, so a graph of
 * any size or depth is checked in linear time.
 * @module
 */
import * as z from 'zod';
import { toIssues, type Issue } from '../errors.ts';
import type { ExperimentSpec, NodeOverride, Topology } from '../definition/types.ts';
import { buildGraph, type Graph } from './graph.ts';
import { describeCycle, eachCycle } from './cycles.ts';
import type { Assert, Same } from '../primitives/same-type.ts';

const ID = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Schema of a {@link NodeOverride}: what a variant, a policy or a bandit arm changes on one llm node.
 *
 * @example
 * ```ts
 * NodeOverrideSchema.parse({ model: ['sim:fast', 'sim:default'], temperature: 0.2, maxTokens: 256 });
 * ```
 */
export const NodeOverrideSchema = z.strictObject({
  model: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).readonly()]).optional(),
  system: z.string().optional(),
  prompt: z.string().optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
});

/**
 * Schema of an {@link ExperimentSpec}'s shape (variant names are ids, weights are >= 0).
 * `validateTopology` checks the rest against the topology: some traffic, a known control,
 * and variants that change llm nodes the topology has.
 *
 * @example
 * ```ts
 * ExperimentSpecSchema.parse({ stickyBy: 'tenant', variants: { control: { weight: 9 }, b: { weight: 1, nodes: { answer: { model: 'sim:fast' } } } } });
 * ```
 */
export const ExperimentSpecSchema = z.strictObject({
  name: z.string().min(1).optional(),
  stickyBy: z.enum(['user', 'tenant', 'run']).optional(),
  variants: z.record(
    z.string().regex(ID, 'a variant name is an id (letters, digits, _ . -; not starting with a digit)'),
    z.strictObject({
      weight: z.number().nonnegative(),
      nodes: z.record(z.string().min(1), NodeOverrideSchema).optional(),
      description: z.string().optional(),
    }),
  ).refine((v) => Object.keys(v).length > 0, 'an experiment needs at least one variant'),
  control: z.string().min(1).optional(),
});


/**
 * Schema of a topology's own version and of the versions it resumes ({@link Topology.version},
 * {@link Topology.resumes}): 1 to 200 characters, no whitespace or control characters.
 *
 * @example
 * ```ts
 * VersionSchema.parse('2026-12-04'); // a date, a release, a commit: whatever you version by
 * ```
 */
export const VersionSchema = z.string().min(1).max(200).regex(/^[^\s\p{Cc}]*$/u, 'a version has no whitespace or control characters');

/**
 * Compiles only while the schemas accept exactly what the interfaces describe.
 *
 * @example
 * ```ts
 * // adding a field to ExperimentSpec but not to ExperimentSpecSchema breaks the build here
 * ```
 */
export type ExperimentSchemasMatch = [
  Assert<Same<NodeOverride, z.input<typeof NodeOverrideSchema>>>,
  Assert<Same<ExperimentSpec, z.input<typeof ExperimentSpecSchema>>>,
  Assert<Same<ExperimentSpec, z.output<typeof ExperimentSpecSchema>>>,
];

/** Result of {@link validateTopology}. */
export type Validation =
  | { readonly ok: true; readonly graph: Graph; readonly issues: readonly [] }
  | { readonly ok: false; readonly graph: Graph; readonly issues: readonly Issue[] };

/**
 * Checks a topology and returns every problem with the path of the bad field.
 *
 * @example
 * ```ts
 * const v = validateTopology(def);
 * if (!v.ok) console.error(v.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
 * ```
 */
export function validateTopology(t: Topology): Validation {
  const issues: Issue[] = [];
  const built = buildGraph(t);
  const g = built.graph;
  if (typeof t.name !== 'string' || t.name.length === 0) issues.push({ code: 'invalid_name', path: ['name'], message: 'a topology needs a non-empty name' });
  if (t.nodes.length === 0) issues.push({ code: 'no_nodes', path: ['nodes'], message: 'a topology needs at least one node' });
  if (t.maxInFlight !== undefined && !isPositiveInt(t.maxInFlight)) {
    issues.push({ code: 'invalid_max_in_flight', path: ['maxInFlight'], message: `must be a positive integer, got ${String(t.maxInFlight)}` });
  }
  t.nodes.forEach((node, i) => {
    if (!ID.test(node.id)) issues.push({ code: 'invalid_id', path: ['nodes', i, 'id'], message: `'${node.id}' is not a valid node id (letters, digits, _ . -; not starting with a digit)` });
    if (node.cap !== undefined && !isPositiveInt(node.cap)) issues.push({ code: 'invalid_cap', path: ['nodes', i, 'cap'], message: `must be a positive integer, got ${String(node.cap)}` });
    if (node.timeoutMs !== undefined && !(node.timeoutMs > 0 && Number.isFinite(node.timeoutMs))) {
      issues.push({ code: 'invalid_timeout', path: ['nodes', i, 'timeoutMs'], message: `must be a positive number of ms, got ${String(node.timeoutMs)}` });
    }
    if (node.after.includes(node.id)) issues.push({ code: 'cycle', path: ['nodes', i, 'after'], message: `cycle: ${node.id} -> ${node.id}` });
    if (node.kind === 'route' && Object.keys(node.branches ?? {}).length === 0) {
      issues.push({ code: 'no_branches', path: ['nodes', i, 'branches'], message: `route '${node.id}' needs at least one branch` });
    }
    if (node.kind !== 'route' && node.branches !== undefined) issues.push({ code: 'unexpected_branches', path: ['nodes', i, 'branches'], message: 'only route nodes have branches' });
    if (node.kind === 'join' && node.after.length === 0) {
      issues.push({ code: 'join_without_parents', path: ['nodes', i, 'after'], message: `join '${node.id}' has no parents: it can never fire` });
    }
    if (node.streamFrom === node.id) issues.push({ code: 'stream_from_self', path: ['nodes', i, 'streamFrom'], message: `node '${node.id}' cannot stream from itself` });
    if (node.streamFrom !== undefined) {
      if (node.after.includes(node.streamFrom)) {
        issues.push({ code: 'stream_from_and_after', path: ['nodes', i, 'streamFrom'], message: `'${node.streamFrom}' is in both streamFrom and after: a streaming consumer starts with its producer, list it in streamFrom only` });
      }
      const at = g.index.get(node.streamFrom);
      const producer = at === undefined ? undefined : t.nodes[at];
      if (producer !== undefined && producer.kind !== 'llm') {
        issues.push({ code: 'stream_from_non_llm', path: ['nodes', i, 'streamFrom'], message: `'${node.streamFrom}' is a ${producer.kind} node; only llm nodes stream tokens` });
      }
    }
    if (node.pools !== undefined && node.pools.length > 0) {
      const where = node.kind === 'topology' ? 'topology' : node.remote !== undefined ? 'remote' : undefined;
      if (where !== undefined) issues.push(poolNotSupported(node.id, where, node.remote, i));
    }
    if (node.onError === node.id) issues.push({ code: 'error_target_self', path: ['nodes', i, 'onError'], message: `node '${node.id}' cannot be its own onError target` });
    if (node.branches) {
      for (const [b, targets] of Object.entries(node.branches)) {
        targets.forEach((target, k) => {
          if (target === node.id) issues.push({ code: 'cycle', path: ['nodes', i, 'branches', b, k], message: `cycle: ${node.id} -> ${node.id}` });
        });
      }
    }
  });
  if (t.experiment !== undefined) experimentIssues(t, g, issues);
  versionIssues(t, issues);
  for (const issue of built.issues) issues.push(issue); // no spread: there may be more issues than a call takes arguments
  if (t.output !== undefined && !g.index.has(t.output)) issues.push({ code: 'missing_output', path: ['output'], message: `output names missing node '${t.output}'` });
  if (g.order === undefined) {
    eachCycle(g, (stack, start) => {
      if (start === stack.length - 1) return; // self-loops (after, branches, streamFrom) are reported above with their field
      issues.push({ code: 'cycle', path: ['nodes', stack[start]!], message: `cycle: ${describeCycle(g.ids, stack, start)}` });
    });
  } else if (built.issues.length === 0) {
    for (const issue of neverRuns(g)) issues.push(issue);
  }
  return issues.length === 0 ? { ok: true, graph: g, issues: [] } : { ok: false, graph: g, issues };
}

/** The experiment's shape, then what only the topology can tell: traffic, control, the nodes variants change. */
function experimentIssues(t: Topology, g: Graph, issues: Issue[]): void {
  const parsed = ExperimentSpecSchema.safeParse(t.experiment);
  if (!parsed.success) {
    for (const issue of toIssues(parsed.error.issues, ['experiment'])) issues.push(issue);
    return;
  }
  const e = parsed.data;
  const names = Object.keys(e.variants);
  if (!names.some((n) => e.variants[n]!.weight > 0)) {
    issues.push({ code: 'no_traffic', path: ['experiment', 'variants'], message: 'every variant has weight 0: give at least one a positive weight' });
  }
  if (e.control !== undefined && !names.includes(e.control)) {
    issues.push({ code: 'unknown_control', path: ['experiment', 'control'], message: `control '${e.control}' is not a variant (variants: ${names.join(', ')})` });
  }
  for (const name of names) {
    for (const id of Object.keys(e.variants[name]!.nodes ?? {})) {
      const at = g.index.get(id);
      const path = ['experiment', 'variants', name, 'nodes', id];
      if (at === undefined) issues.push({ code: 'unknown_node', path, message: `variant '${name}' changes missing node '${id}'` });
      else if (t.nodes[at]!.kind !== 'llm') {
        issues.push({ code: 'not_llm_node', path, message: `variant '${name}' changes '${id}', a ${t.nodes[at]!.kind} node; variants change llm nodes only` });
      }
    }
  }
}

/**
 * A pool on a node that holds no task slot of its own: a sub-topology's child run,
 * or a remote node's worker group, does its work elsewhere.
 */
function poolNotSupported(id: string, where: 'topology' | 'remote', group: string | undefined, i: number): Issue {
  const message = where === 'topology'
    ? `node '${id}' runs a child topology and holds no pool itself: the child run's own nodes take pools, so set pools on the child topology's nodes`
    : `node '${id}' runs remotely in worker group '${String(group)}' and holds no pool here: the remote group's own nodes take pools, so set pools there`;
  return { code: 'pool_not_supported', path: ['nodes', i, 'pool'], message };
}

function isPositiveInt(v: number): boolean {
  return Number.isInteger(v) && v > 0;
}

/**
 * Which route choices a node needs to run: route (or onError source) index to the
 * set of allowed outcomes. Absent: any. `null`: it can never run.
 */
type Need = Map<number, ReadonlySet<string>> | null;

/**
 * Finds nodes that can never run: a node whose parents need one route to choose
 * two different branches, and joins none of whose parents can run.
 */
function neverRuns(g: Graph): Issue[] {
  const issues: Issue[] = [];
  const needs: Need[] = new Array(g.ids.length);
  for (const v of g.order!) {
    const node = g.nodes[v]!;
    const parentNeeds: Need[] = g.in[v]!.map((e) => {
      const base = needs[e.from]!;
      if (base === null) return null;
      const gate = e.gate;
      if (gate.kind === 'always' || gate.kind === 'stream') return base;
      const allowed = gate.kind === 'branch' ? gate.branches : new Set([gate.kind === 'error' ? '!error' : '!ok']);
      return intersect(base, new Map([[e.from, allowed]]));
    });
    let need: Need;
    if (node.kind === 'join') {
      const live = parentNeeds.filter((x): x is Map<number, ReadonlySet<string>> => x !== null);
      if (live.length === 0) {
        need = null;
        if (parentNeeds.length > 0) issues.push({ code: 'never_fires', path: ['nodes', v], message: `join '${node.id}' can never fire: none of its parents can run` });
      } else need = unionAll(live);
    } else {
      need = new Map();
      for (const p of parentNeeds) {
        need = need === null || p === null ? null : intersect(need, p);
      }
      if (need === null && parentNeeds.every((p) => p !== null)) {
        issues.push({ code: 'never_runs', path: ['nodes', v], message: `node '${node.id}' can never run: its parents need different branches of the same route; make it a join to fire on either` });
      }
    }
    needs[v] = need;
  }
  return issues;
}

function intersect(a: Map<number, ReadonlySet<string>>, b: Map<number, ReadonlySet<string>>): Need {
  const out = new Map(a);
  for (const [k, set] of b) {
    const prev = out.get(k);
    if (prev === undefined) out.set(k, set);
    else {
      const both = new Set([...prev].filter((x) => set.has(x)));
      if (both.size === 0) return null;
      out.set(k, both);
    }
  }
  return out;
}

/** Over-approximates a disjunction: a route stays constrained only if every parent constrains it. */
function unionAll(list: Map<number, ReadonlySet<string>>[]): Map<number, ReadonlySet<string>> {
  const [first, ...rest] = list;
  const out = new Map<number, ReadonlySet<string>>();
  for (const [k, set] of first!) {
    if (rest.every((m) => m.has(k))) out.set(k, new Set([...set, ...rest.flatMap((m) => [...m.get(k)!])]));
  }
  return out;
}

/** `version` and `resumes`: well-formed versions (see {@link VersionSchema}). */
function versionIssues(t: Topology, issues: Issue[]): void {
  if (t.version !== undefined) {
    const r = VersionSchema.safeParse(t.version);
    if (!r.success) for (const issue of toIssues(r.error.issues, ['version'])) issues.push(issue);
  }
  if (t.resumes !== undefined) {
    const r = z.array(VersionSchema).safeParse(t.resumes);
    if (!r.success) for (const issue of toIssues(r.error.issues, ['resumes'])) issues.push(issue);
  }
}
