/**
 * `subTopology`: a whole topology used as one node. The child run shares the
 * parent's signal, priority and deadline; its events carry the parent's run id.
 * @module
 */
import type { AnyTopology, NodeContext, NodeDef, Topology } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** Spec of a sub-topology node. Its output is the child run's declared output. */
export interface SubTopologySpec<I, D, SI, SOut> extends BaseSpec<SOut> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly topology: Topology<SI, any, SOut>;
  /** Builds the child's input. Default: the parent run's input. */
  readonly input?: (ctx: NodeContext<I, D>) => SI | PromiseLike<SI>;
}

/**
 * Creates a sub-topology node.
 *
 * @example
 * ```ts
 * const summarise = subTopology('summarise', { topology: summariser, input: ({ deps }) => ({ text: deps.fetch }) });
 * ```
 */
export function subTopology<Id extends string, I, D, SI, SOut>(id: Id, spec: SubTopologySpec<I, D, SI, SOut>): NodeDef & { readonly id: Id } {
  const child = spec.topology as AnyTopology;
  const makeInput = spec.input;
  const execute: NodeDef['execute'] = async (ctx, services) => {
    const input = makeInput ? await makeInput(ctx as NodeContext<I, D>) : ctx.input;
    return services.runChild(child, input, ctx);
  };
  return nodeDef(id, 'topology', spec, execute, { topology: child });
}
