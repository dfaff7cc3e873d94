/**
 * Raw async/await: each DAG hand-written as awaits in order and Promise.all for
 * parallel branches; the capped stream as a pool of `cap` workers pulling from
 * the iterator.
 * @module
 */
import type { Call, JoinFn, NodeFn, Pump, RunFn, SystemAdapter } from './types.ts';

export const system: SystemAdapter = {
  id: 'promise',
  chain(fns: readonly NodeFn[]): RunFn {
    return async (input) => {
      let v = input;
      for (let k = 0; k < fns.length; k++) v = await fns[k]!(v);
      return v;
    };
  },
  fan(source: NodeFn, branches: readonly NodeFn[], join: JoinFn): RunFn {
    return async (input) => {
      const s = await source(input);
      return join(await Promise.all(branches.map((fn) => fn(s))));
    };
  },
  pump(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
    return workerPool(source, cap, work, onResult);
  },
  /** W10: no wrapper; the call itself. */
  guard(call: Call): Call {
    return call;
  },
};

/** `cap` workers, each pulling the next input when its last one is done. Used by the peers' W6 too. */
export function workerPool(source: Iterator<number>, cap: number, work: NodeFn, onResult: (output: number) => void): Pump {
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const step = source.next();
      if (step.done) return;
      const out = await work(step.value);
      if (!stopped) onResult(out);
    }
  };
  const workers = Array.from({ length: cap }, () => worker());
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
}
