/**
 * `join`: fan-in. Fires once every parent of the same run has settled, with the
 * outputs of the parents that ran (skipped parents are absent). Skipped only when
 * every parent was skipped, so a join after a route never hangs.
 * @module
 */
import type { NodeContext, NodeDef } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** Spec of a join node. Without `run`, the output is the record of parent outputs. */
export interface JoinSpec<I, D, R> extends BaseSpec<R> {
  readonly after: readonly string[];
  /** Combines the parents' outputs (absent for skipped parents). */
  readonly run?: (ctx: NodeContext<I, D>) => R | PromiseLike<R>;
}

const gather = (ctx: NodeContext): unknown => ctx.deps;

/**
 * Creates a join node.
 *
 * @example
 * ```ts
 * const drafts = join('drafts', { after: ['draftA', 'draftB'] }); // output: { draftA?, draftB? }
 * ```
 */
export function join<Id extends string, I, D, R>(id: Id, spec: JoinSpec<I, D, R>): NodeDef & { readonly id: Id } {
  return nodeDef(id, 'join', spec, (spec.run as NodeDef['execute'] | undefined) ?? gather);
}
