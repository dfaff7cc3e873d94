/**
 * `route`: a conditional edge. The node's function names one branch; only the
 * nodes of that branch run, the others are skipped (and the skip propagates).
 * @module
 */
import type { NodeContext, NodeDef } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** Spec of a route node. Its output is the chosen branch name. */
export interface RouteSpec<I, D, B extends string> extends BaseSpec<B> {
  /** Branch name to the node id(s) it enables. A branch may enable nothing. */
  readonly branches: Readonly<Record<B, string | readonly string[]>>;
  /** Picks the branch. */
  readonly select: (ctx: NodeContext<I, D>) => B | PromiseLike<B>;
}

/**
 * Creates a route node.
 *
 * @example
 * ```ts
 * const verdict = route('verdict', {
 *   after: ['verify'],
 *   branches: { approve: 'publish', revise: ['rewrite'] },
 *   select: ({ deps }: NodeContext<unknown, { verify: { score: number } }>) => (deps.verify.score > 0.8 ? 'approve' : 'revise'),
 * });
 * ```
 */
export function route<Id extends string, I, D, B extends string>(id: Id, spec: RouteSpec<I, D, B>): NodeDef & { readonly id: Id } {
  const branches: Record<string, readonly string[]> = {};
  for (const [name, targets] of Object.entries(spec.branches) as [string, string | readonly string[]][]) {
    branches[name] = typeof targets === 'string' ? [targets] : [...targets];
  }
  return nodeDef(id, 'route', spec, spec.select as NodeDef['execute'], { branches });
}
