/**
 * `fanOut`: a list output spawns one sub-task per element, run under the node's
 * own item cap (and its pools and the global task limit), gathered back in order.
 * Built on RxJS `mergeMap`, whose concurrency argument is the item cap.
 * @module
 */
import { defer, from, lastValueFrom, mergeMap, reduce } from 'rxjs';
import type { NodeContext, NodeDef } from '../src/definition/types.ts';
import { nodeDef, type BaseSpec } from './internal/common.ts';

/** Spec of a fan-out node. Its output is the array of `each` results, in item order. */
export interface FanOutSpec<I, D, T, R> extends BaseSpec<R[]> {
  /** The list to fan out over. */
  readonly items: (ctx: NodeContext<I, D>) => readonly T[] | PromiseLike<readonly T[]>;
  /** Work for one element. */
  readonly each: (item: T, index: number, ctx: NodeContext<I, D>) => R | PromiseLike<R>;
  /** How many elements of one run are processed at once. Default 4. */
  readonly itemCap?: number;
}

/**
 * Creates a fan-out node.
 *
 * @example
 * ```ts
 * const summaries = fanOut('summaries', {
 *   after: ['retrieve'],
 *   items: ({ deps }: NodeContext<unknown, { retrieve: string[] }>) => deps.retrieve,
 *   each: async (doc) => doc.slice(0, 80),
 *   itemCap: 8,
 * });
 * ```
 */
export function fanOut<Id extends string, I, D, T, R>(id: Id, spec: FanOutSpec<I, D, T, R>): NodeDef & { readonly id: Id } {
  const itemCap = spec.itemCap ?? 4;
  const execute: NodeDef['execute'] = async (ctx, services) => {
    const typed = ctx as NodeContext<I, D>;
    const items = await spec.items(typed);
    if (items.length === 0) return [];
    const gathered = from(items).pipe(
      mergeMap(
        (item, index) => defer(() => services.task(ctx, () => spec.each(item, index, typed))).pipe(
          mergeMap(async (value) => ({ index, value })),
        ),
        itemCap,
      ),
      reduce((acc, r) => { acc[r.index] = r.value; return acc; }, new Array<R>(items.length)),
    );
    return lastValueFrom(gathered);
  };
  return nodeDef(id, 'fanOut', spec, execute);
}
