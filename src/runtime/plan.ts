/**
 * The plan of a topology for one engine: the graph flattened into index tables
 * (edges, gates, dependencies, node kinds), the resources each node holds, and
 * the checks that need the engine (models, pools, remote executor). Built once,
 * read by every run; holds no run state.
 * @module
 */
import { TopologyError, toIssues, type Issue } from '../errors.ts';
import type { NodeDef, Topology } from '../definition/types.ts';
import type { Graph } from '../compiler/graph.ts';
import { validateTopology } from '../compiler/validate.ts';
import type { Models } from '../providers/models.ts';
import type { Limiter } from '../primitives/limiter.ts';
import type { Acquire } from './resources.ts';
import type { Limits } from './limits.ts';

/**
 * Edge gate code (`Plan.childGate`): open whenever the parent completed.
 *
 * @example
 * ```ts
 * const open = plan.childGate[i][k] === G_ALWAYS && run.state[i] === DONE;
 * ```
 */
export const G_ALWAYS = 0;
/**
 * Edge gate code: open when the route parent chose one of the edge's branches.
 *
 * @example
 * ```ts
 * const open = gate === G_BRANCH && plan.childBranches[i][k].has(run.outputs[i]);
 * ```
 */
export const G_BRANCH = 1;
/**
 * Edge gate code: open when the parent completed (the success edge of a node with `onError`).
 *
 * @example
 * ```ts
 * const open = gate === G_SUCCESS && run.state[i] === DONE;
 * ```
 */
export const G_SUCCESS = 2;
/**
 * Edge gate code: open when the parent failed (its `onError` edge).
 *
 * @example
 * ```ts
 * const open = gate === G_ERROR && run.state[i] === FAILED;
 * ```
 */
export const G_ERROR = 3;
/**
 * Edge gate code: a streaming edge, taken when the producer starts.
 *
 * @example
 * ```ts
 * if (gate === G_STREAM) continue; // already taken
 * ```
 */
export const G_STREAM = 4;

const GATE_CODES = { always: G_ALWAYS, branch: G_BRANCH, success: G_SUCCESS, error: G_ERROR, stream: G_STREAM } as const;

/**
 * What planning needs from the engine.
 *
 * @example
 * ```ts
 * const env: PlanEnv = { models, limits, hasRemote: false, defaultMaxInFlight: 1024 };
 * ```
 */
export interface PlanEnv {
  readonly models: Models;
  readonly limits: Limits;
  /** Whether the engine can run `remote` nodes. */
  readonly hasRemote: boolean;
  /** Admission limit of a topology without its own `maxInFlight`. */
  readonly defaultMaxInFlight: number;
}

/**
 * Node outputs carried over from an earlier attempt (checked by {@link Plan.checkResume}).
 *
 * @example
 * ```ts
 * const resume: Resume = { outputs: { retrieve: docs }, skipped: [] };
 * ```
 */
export interface Resume {
  readonly outputs: Readonly<Record<string, unknown>>;
  readonly skipped: readonly string[];
}

/**
 * A topology planned for one engine. Throws {@link TopologyError} for an invalid
 * topology, an unknown model or an unknown pool.
 *
 * @example
 * ```ts
 * const plan = new Plan(topology, { models, limits, hasRemote: false, defaultMaxInFlight: 1024 });
 * plan.indexOf('retrieve'); // 0
 * ```
 */
export class Plan {
  readonly name: string;
  readonly topology: Topology;
  readonly graph: Graph;
  readonly ids: readonly string[];
  readonly nodes: readonly NodeDef[];
  /** Per node: how many parent edges it waits for (copied into each run). */
  readonly pendingTemplate: readonly number[];
  readonly zeros: readonly number[];
  readonly empty: readonly undefined[];
  readonly roots: readonly number[];
  /** Index of the declared output node, or -1. */
  readonly outIdx: number;
  readonly maxInFlight: number;
  /**
   * Problems that stop this engine from starting runs of the topology but not from executing
   * single nodes of it (a remote worker has no remote executor of its own).
   */
  readonly runIssues: readonly Issue[];
  /** Per node: its children, the gate code of each edge, and the branch set of each branch edge. */
  readonly childTo: readonly (readonly number[])[];
  readonly childGate: readonly (readonly number[])[];
  readonly childBranches: readonly (readonly (ReadonlySet<unknown> | undefined)[])[];
  /** Per node: the parents its `deps` record shows (its `after`, plus the node it handles errors of). */
  readonly depIdx: readonly (readonly number[])[];
  readonly isJoin: readonly boolean[];
  readonly isRoute: readonly boolean[];
  /** Per node: its streaming consumers. */
  readonly streamKids: readonly (readonly number[])[];
  /**
   * Per node: what its work holds (pools, then the global slot). Every node whose own
   * function is work holds them, joins included; a fan-out holds them per item instead
   * ({@link itemResources}), a sub-topology through its child nodes, a remote node in its worker.
   */
  readonly resources: readonly (readonly Limiter<Acquire>[])[];
  /** Per node: what one fan-out item holds (pools, then the global slot). */
  readonly itemResources: readonly (readonly Limiter<Acquire>[])[];

  constructor(t: Topology, env: PlanEnv) {
    const v = validateTopology(t);
    const issues: Issue[] = [...v.issues];
    const limits = env.limits;
    t.nodes.forEach((node, i) => {
      node.models?.forEach((ref, k) => {
        if (env.models.resolve(ref) === undefined) {
          issues.push({ code: 'unknown_model', path: ['nodes', i, 'model', k], message: `unknown model '${ref}' (providers: ${env.models.providerNames.join(', ')}; write provider:model)` });
        }
      });
      node.pools?.forEach((p, k) => {
        if (limits.pool(p) === undefined) {
          issues.push({ code: 'unknown_pool', path: ['nodes', i, 'pool', k], message: `unknown pool '${p}' (engine pools: ${limits.poolNames().join(', ') || 'none'})` });
        }
      });
    });
    if (issues.length > 0) throw new TopologyError(t.name, issues);
    this.runIssues = env.hasRemote ? [] : t.nodes.flatMap((node, i) => (node.remote === undefined ? [] : [{
      code: 'no_remote_executor', path: ['nodes', i, 'remote'],
      message: `node '${node.id}' runs in worker group '${node.remote}', but the engine has no remote executor (createEngine({ remote: createRemoteExecutor(...) }))`,
    }]));
    const g = v.graph;
    const n = g.ids.length;
    this.name = t.name;
    this.topology = t;
    this.graph = g;
    this.ids = g.ids;
    this.nodes = t.nodes;
    this.pendingTemplate = g.in.map((l) => l.length);
    this.zeros = new Array<number>(n).fill(0);
    this.empty = new Array<undefined>(n).fill(undefined);
    this.roots = g.order!.filter((i) => g.in[i]!.length === 0);
    this.outIdx = t.output === undefined ? -1 : g.index.get(t.output)!;
    this.maxInFlight = t.maxInFlight ?? env.defaultMaxInFlight;
    this.childTo = g.out.map((l) => l.map((e) => e.to));
    this.childGate = g.out.map((l) => l.map((e) => GATE_CODES[e.gate.kind]));
    this.streamKids = g.out.map((l) => l.filter((e) => e.gate.kind === 'stream').map((e) => e.to));
    this.childBranches = g.out.map((l) => l.map((e) => (e.gate.kind === 'branch' ? e.gate.branches : undefined)));
    this.depIdx = t.nodes.map((node) => {
      const idx = node.after.map((d) => g.index.get(d)!);
      for (const e of g.in[g.index.get(node.id)!]!) if (e.gate.kind === 'error' && !idx.includes(e.from)) idx.push(e.from);
      // a streaming consumer reads its producer through ctx.tokens(), not deps
      return idx;
    });
    this.isJoin = t.nodes.map((x) => x.kind === 'join');
    this.isRoute = t.nodes.map((x) => x.kind === 'route');
    const holdsNothing = (node: NodeDef): boolean => node.kind === 'fanOut' || node.kind === 'topology' || node.remote !== undefined;
    this.resources = t.nodes.map((node) => (holdsNothing(node) ? [] : limits.taskResources(node.pools)));
    this.itemResources = t.nodes.map((node) => (node.kind === 'fanOut' ? limits.taskResources(node.pools) : []));
  }

  /** Node index by id. */
  indexOf(id: string): number | undefined {
    return this.graph.index.get(id);
  }

  /** Validates a run input; returns the parsed input or issues. */
  parseInput(input: unknown): { ok: true; value: unknown } | { ok: false; issues: Issue[] } {
    const schema = this.topology.input;
    if (schema === undefined) return { ok: true, value: input };
    const r = schema.safeParse(input);
    return r.success ? { ok: true, value: r.data } : { ok: false, issues: toIssues(r.error.issues, ['input']) };
  }

  /** Checks a resume request against the graph: known nodes, and no node resumed without its parents. */
  checkResume(resume: Resume): Issue[] {
    const issues: Issue[] = [];
    const given = new Set([...Object.keys(resume.outputs), ...resume.skipped]);
    for (const id of Object.keys(resume.outputs)) {
      const i = this.indexOf(id);
      if (i === undefined) issues.push({ code: 'unknown_node', path: ['resume', 'outputs', id], message: `unknown node '${id}'` });
      else for (const e of this.graph.in[i]!) {
        if (!given.has(this.ids[e.from]!)) issues.push({ code: 'missing_parent', path: ['resume', 'outputs', id], message: `node '${id}' is resumed but its parent '${this.ids[e.from]}' is not` });
      }
    }
    resume.skipped.forEach((id, k) => {
      if (this.indexOf(id) === undefined) issues.push({ code: 'unknown_node', path: ['resume', 'skipped', k], message: `unknown node '${id}'` });
    });
    return issues;
  }
}
