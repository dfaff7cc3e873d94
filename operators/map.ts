/**
 * `map`: the node's async (or sync) function turns the run input and its
 * dependencies' outputs into this node's output.
 * @module
 */
import type { NodeContext, NodeDef } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** Spec of a map node. */
export interface MapSpec<I, D, R> extends BaseSpec<R> {
  /** Computes the output. Honour `ctx.signal` in long work. */
  readonly run: (ctx: NodeContext<I, D>) => R | PromiseLike<R>;
}

/**
 * Creates a map node. Most users call `topology(...).map(id, spec)` instead.
 *
 * @example
 * ```ts
 * const upper = map('upper', { run: ({ input }: NodeContext<string>) => input.toUpperCase() });
 * ```
 */
export function map<Id extends string, I, D, R>(id: Id, spec: MapSpec<I, D, R>): NodeDef & { readonly id: Id } {
  return nodeDef(id, 'map', spec, spec.run as NodeDef['execute']);
}
