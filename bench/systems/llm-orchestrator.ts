/**
 * llm-orchestrator: the DAGs as topologies, run through one engine.
 * @module
 */
import { createEngine, topology, type AnyTopology, type Engine, type NodeContext, type TopologyBuilder } from '../../src/index.ts';
import type { DagOptions, Definer, JoinFn, NodeFn, Pump, RunFn, SystemAdapter } from './types.ts';

// The builder's types track node ids; these DAGs are built in loops, so the
// builder is typed loosely here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBuilder = TopologyBuilder<any, any>;
type Ctx = NodeContext<number, Record<string, number>>;

let seq = 0;

function chainTopology(fns: readonly NodeFn[], maxInFlight: number | undefined, cap?: number): AnyTopology {
  let b: AnyBuilder = topology(`chain-${fns.length}-${++seq}`, maxInFlight === undefined ? {} : { maxInFlight });
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

function runner(engine: Engine, t: AnyTopology): RunFn {
  return async (input) => {
    const r = await engine.run(t, input);
    if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
    return r.output as number;
  };
}

const definer: Definer<AnyTopology, Engine> = {
  // A fresh engine per iteration, made outside the timing; building validates
  // (cycles, dependencies, caps); compile is engine.compile on that engine.
  setup: () => createEngine(),
  define: (fns) => chainTopology(fns, undefined),
  compile: (t, engine) => {
    engine.compile(t);
    return runner(engine, t);
  },
};

export const system: SystemAdapter = {
  id: 'llm-orchestrator',
  chain(fns: readonly NodeFn[], options: DagOptions): RunFn {
    return runner(createEngine(), chainTopology(fns, options.maxInFlight));
  },
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn, options: DagOptions): RunFn {
    let b: AnyBuilder = topology(`fan-${branches.length}-${++seq}`, { maxInFlight: options.maxInFlight });
    b = b.map('src', { run: (ctx: Ctx) => source(ctx.input) });
    const ids = branches.map((fn, k) => {
      const id = `b${k}`;
      b = b.map(id, { after: ['src'], run: (ctx: Ctx) => fn(ctx.deps['src']!) });
      return id;
    });
    b = b.join('join', { after: ids, run: (ctx: Ctx) => join(ids.map((id) => ctx.deps[id]!)) });
    return runner(createEngine(), b.build({ output: 'join' }));
  },
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
    const engine = createEngine();
    const t = chainTopology([work], cap, cap);
    const sub = engine.stream(t, { [Symbol.iterator]: () => source }, { maxInFlight: cap }).subscribe({
      next: (r) => {
        if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
        onResult(r.output as number);
      },
      error: (e: unknown) => { throw e; },
    });
    return {
      stop: async () => sub.unsubscribe(),
      admitted: () => engine.inFlight,
    };
  },
  definer: definer as Definer<unknown, unknown>,
};
