/**
 * The W1 chain as a LangGraph StateGraph (one graph node per function), shared by the plain
 * and the checkpointed LangGraph systems.
 * @module
 */
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import type { NodeFn } from './types.ts';

const ChainState = Annotation.Root({ v: Annotation<number>() });

// Node names are built in loops, which LangGraph's typed builder cannot track.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** A chain `n0` → `n1` → … of one node per function over the state's `v`, not yet compiled. */
export function defineChain(fns: readonly NodeFn[]): Loose {
  const g: Loose = new StateGraph(ChainState);
  fns.forEach((fn, k) => g.addNode(`n${k}`, async (s: { v: number }) => ({ v: await fn(s.v) })));
  g.addEdge(START, 'n0');
  for (let k = 1; k < fns.length; k++) g.addEdge(`n${k - 1}`, `n${k}`);
  g.addEdge(`n${fns.length - 1}`, END);
  return g;
}
