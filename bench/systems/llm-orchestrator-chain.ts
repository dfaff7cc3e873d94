/**
 * The W1 chain as a topology (one map node per function), shared by the plain and the
 * durable llm-orchestrator systems, and the loose builder types their DAGs use.
 * @module
 */
import { topology, type AnyTopology, type NodeContext, type TopologyBuilder } from '../../src/index.ts';
import type { NodeFn } from './types.ts';

// The builder's types track node ids; these DAGs are built in loops, so the
// builder is typed loosely here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyBuilder = TopologyBuilder<any, any>;
export type Ctx = NodeContext<number, Record<string, number>>;

let seq = 0;
/** A fresh number for a topology name (each bench topology has its own name). */
export const nextSeq = (): number => ++seq;

/** A chain of one map node per function (`n0` → `n1` → …), the output the last node's. */
export function chainTopology(fns: readonly NodeFn[], maxInFlight: number | undefined, cap?: number): AnyTopology {
  let b: AnyBuilder = topology(`chain-${fns.length}-${nextSeq()}`, maxInFlight === undefined ? {} : { maxInFlight });
  fns.forEach((fn, k) => {
    const id = `n${k}`;
    if (k === 0) b = b.map(id, { ...(cap === undefined ? {} : { cap }), run: (ctx: Ctx) => fn(ctx.input) });
    else {
      const prev = `n${k - 1}`;
      b = b.map(id, { after: [prev], run: (ctx: Ctx) => fn(ctx.deps[prev]!) });
    }
  });
  return b.build({ output: `n${fns.length - 1}` });
}
