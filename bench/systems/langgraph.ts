/**
 * @langchain/langgraph: StateGraph compiled without a checkpointer; one graph
 * node per DAG node; parallel branches are fanned out by edges and gathered by
 * a waiting edge into the join node.
 * @module
 */
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import type { Definer, JoinFn, NodeFn, Pump, RunFn, SystemAdapter } from './types.ts';
import { workerPool } from './promise.ts';
import { defineChain } from './langgraph-chain.ts';

const FanState = Annotation.Root({
  v: Annotation<number>(),
  parts: Annotation<(readonly [number, number])[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  out: Annotation<number>(),
});

// Node names are built in loops, which LangGraph's typed builder cannot track.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

function runner(app: Loose, recursionLimit: number, pick: (state: Loose) => number): RunFn {
  return async (input) => pick(await app.invoke({ v: input }, { recursionLimit }));
}

const definer: Definer<Loose, undefined> = {
  setup: () => undefined,
  define: (fns) => defineChain(fns),
  compile: (g) => runner(g.compile(), 1000, (s) => s.v),
};

export const system: SystemAdapter = {
  id: 'langgraph',
  chain(fns: readonly NodeFn[]): RunFn {
    return runner(defineChain(fns).compile(), fns.length + 10, (s) => s.v);
  },
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn): RunFn {
    const g: Loose = new StateGraph(FanState);
    g.addNode('src', async (s: { v: number }) => ({ v: await source(s.v) }));
    const ids = branches.map((fn, k) => {
      const id = `b${k}`;
      g.addNode(id, async (s: { v: number }) => ({ parts: [[k, await fn(s.v)] as const] }));
      return id;
    });
    g.addNode('join', async (s: { parts: (readonly [number, number])[] }) => {
      const values = new Array<number>(branches.length);
      for (const [k, v] of s.parts) values[k] = v;
      return { out: await join(values) };
    });
    g.addEdge(START, 'src');
    for (const id of ids) g.addEdge('src', id);
    g.addEdge(ids, 'join');
    g.addEdge('join', END);
    return runner(g.compile(), 25, (s) => s.out);
  },
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
    return workerPool(source, cap, system.chain([work], { maxInFlight: cap }), onResult);
  },
  definer: definer as Definer<unknown, unknown>,
  // loaded on demand: the checkpointers (better-sqlite3, pg) stay out of the other workloads' children
  durableChain: async (fns, setup) => (await import('./langgraph-durable.ts')).durableChain(fns, setup),
};
