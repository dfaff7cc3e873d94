/**
 * Forks: a new run that re-runs one node of a stored run and everything downstream
 * of it, taking every other node's output from the parent's log (no model calls
 * upstream; recorded as `node.resumed`). Overrides change the input, pin outputs,
 * or give llm nodes another model or prompt for the fork only.
 * @module
 */
import * as z from 'zod';
import { ValidationError } from '../errors.ts';
import type { NodeOverride } from '../definition/types.ts';
import type { FoldedRun } from './fold.ts';
import { NodeOverrideSchema, parseOptions } from './options.ts';
import type { Plan, Resume } from './plan.ts';

/**
 * Options of `engine.fork`.
 *
 * @example
 * ```ts
 * const r = await engine.fork(runId, { from: 'draft', overrides: { nodes: { draft: { model: 'sim:other' } } } });
 * ```
 */
export interface ForkOptions {
  /** The node to run again; it and its descendants run, every other node's output comes from the parent's log. */
  readonly from: string;
  /** The new run's id. Default: a fresh one. */
  readonly runId?: string;
  readonly overrides?: {
    /** Input of the fork (the parent's by default). Nodes taken from the log keep the outputs they had. */
    readonly input?: unknown;
    /** Outputs to use instead of the logged ones, by node id (nodes outside `from` and its descendants only). */
    readonly outputs?: Readonly<Record<string, unknown>>;
    /** Per-node settings for the fork (an llm node's model, system, prompt), by node id. */
    readonly nodes?: Readonly<Record<string, NodeOverride>>;
  };
}

/**
 * Schema of {@link ForkOptions}.
 *
 * @example
 * ```ts
 * ForkOptionsSchema.parse({ from: 'draft' });
 * ```
 */
export const ForkOptionsSchema = z.strictObject({
  from: z.string().min(1),
  runId: z.string().min(1).optional(),
  overrides: z.strictObject({
    input: z.unknown().optional(),
    outputs: z.record(z.string(), z.unknown()).optional(),
    nodes: z.record(z.string(), NodeOverrideSchema).optional(),
  }).optional(),
});

/**
 * Checks fork options against the plan and computes what the fork resumes with:
 * outputs and skips of every node recorded in the parent that is not `from` or
 * downstream of it (and whose parents are all kept), then the output overrides.
 * Throws ValidationError `FORK_INVALID` naming the bad field.
 *
 * @example
 * ```ts
 * const resume = forkResume(plan, foldRun(history), { from: 'draft' });
 * ```
 */
export function forkResume(plan: Plan, state: FoldedRun, options: ForkOptions): Resume {
  const o = parseOptions(ForkOptionsSchema, options, 'fork options');
  const bad = (path: (string | number)[], message: string): ValidationError =>
    new ValidationError('FORK_INVALID', `fork of topology '${plan.name}' is invalid`, [{ code: 'invalid_fork', path, message }]);
  const from = plan.indexOf(o.from);
  if (from === undefined) throw bad(['from'], `topology '${plan.name}' has no node '${o.from}'`);
  const rerun = new Set<number>([from]);
  const stack = [from];
  while (stack.length > 0) {
    for (const e of plan.graph.out[stack.pop()!]!) {
      if (!rerun.has(e.to)) {
        rerun.add(e.to);
        stack.push(e.to);
      }
    }
  }
  const pinned = o.overrides?.outputs ?? {};
  for (const id of Object.keys(pinned)) {
    const i = plan.indexOf(id);
    if (i === undefined) throw bad(['overrides', 'outputs', id], `no node '${id}'`);
    if (rerun.has(i)) throw bad(['overrides', 'outputs', id], `'${id}' runs again in the fork (it is '${o.from}' or downstream of it)`);
  }
  for (const id of Object.keys(o.overrides?.nodes ?? {})) {
    if (plan.indexOf(id) === undefined) throw bad(['overrides', 'nodes', id], `no node '${id}'`);
  }
  const outputs: Record<string, unknown> = {};
  const skipped: string[] = [];
  const kept = new Set<number>();
  for (const i of plan.graph.order!) {
    if (rerun.has(i)) continue;
    const id = plan.ids[i]!;
    const n = state.nodes[id];
    const has = Object.hasOwn(pinned, id);
    if (!has && (n === undefined || (n.status !== 'completed' && n.status !== 'skipped'))) continue;
    if (!plan.graph.in[i]!.every((e) => kept.has(e.from))) continue;
    kept.add(i);
    if (has) outputs[id] = pinned[id];
    else if (n!.status === 'completed') outputs[id] = n!.output;
    else skipped.push(id);
  }
  return { outputs, skipped };
}
