/**
 * @mastra/core workflows: one step per DAG node (createStep with small zod
 * schemas), `.then` for sequence, `.parallel` for branches; a new run per input
 * (`createRunAsync` + `start`).
 * @module
 */
import { createStep, createWorkflow } from '@mastra/core/workflows';
import { z } from 'zod';
import type { Definer, JoinFn, NodeFn, Pump, RunFn, SystemAdapter } from './types.ts';
import { workerPool } from './promise.ts';

const V = z.object({ v: z.number() });

// Step ids are built in loops, which Mastra's typed builder cannot track.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

let seq = 0;

function step(id: string, fn: NodeFn): Loose {
  return createStep({ id, inputSchema: V, outputSchema: V, execute: async ({ inputData }) => ({ v: await fn(inputData.v) }) });
}

function defineChain(fns: readonly NodeFn[]): Loose {
  let wf: Loose = createWorkflow({ id: `chain-${fns.length}-${++seq}`, inputSchema: V, outputSchema: V });
  fns.forEach((fn, k) => { wf = wf.then(step(`n${k}`, fn)); });
  return wf;
}

function runner(wf: Loose, pick: (result: Loose) => number): RunFn {
  return async (input) => {
    const run = await wf.createRunAsync();
    const r = await run.start({ inputData: { v: input } });
    if (r.status !== 'success') throw new Error(`mastra run ${r.status}: ${String(r.error ?? '')}`);
    return pick(r.result);
  };
}

const definer: Definer<Loose, undefined> = {
  setup: () => undefined,
  define: (fns) => defineChain(fns),
  compile: (wf) => runner(wf.commit(), (r) => r.v),
};

export const system: SystemAdapter = {
  id: 'mastra',
  chain(fns: readonly NodeFn[]): RunFn {
    return runner(defineChain(fns).commit(), (r) => r.v);
  },
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn): RunFn {
    const ids = branches.map((_, k) => `b${k}`);
    const joinStep = createStep({
      id: 'join',
      inputSchema: z.record(z.string(), V),
      outputSchema: V,
      execute: async ({ inputData }) => ({ v: await join(ids.map((id) => (inputData as Record<string, { v: number }>)[id]!.v)) }),
    });
    const wf: Loose = createWorkflow({ id: `fan-${branches.length}-${++seq}`, inputSchema: V, outputSchema: V });
    const committed = wf.then(step('src', source)).parallel(branches.map((fn, k) => step(ids[k]!, fn))).then(joinStep).commit();
    return runner(committed, (r) => r.v);
  },
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
    return workerPool(source, cap, system.chain([work], { maxInFlight: cap }), onResult);
  },
  definer: definer as Definer<unknown, unknown>,
};
