/**
 * DBOS Transact (`@dbos-inc/dbos-sdk`): the W1 chain as one registered workflow with
 * one `DBOS.runStep` per node, so every node's output is checkpointed in DBOS's system
 * database (Postgres) before the next one runs. W15p only: DBOS runs DAGs only durably
 * and only on Postgres, so the plain DAG methods throw (as kafkajs's do).
 * @module
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import type { DurableChain, DurableSetup, NodeFn, Pump, RunFn, SystemAdapter } from './types.ts';

const noDag = (what: string): never => {
  throw new Error(`dbos takes part in the durable workloads only (no ${what})`);
};

let launched = false;

/** W15p: the chain as a DBOS workflow of one step per node. DBOS is one per process: call once. */
async function durableChain(fns: readonly NodeFn[], setup: DurableSetup): Promise<DurableChain> {
  if (setup.backend !== 'postgres' || setup.pgUrl === undefined) throw new Error('dbos runs on Postgres only');
  if (launched) throw new Error('DBOS is launched once per process');
  launched = true;
  DBOS.setConfig({ name: `bench_${setup.name}`, systemDatabaseUrl: setup.pgUrl, runAdminServer: false, logLevel: 'error' });
  const names = fns.map((_, k) => `n${k}`);
  const chain = DBOS.registerWorkflow(async (input: number): Promise<number> => {
    let v = input;
    for (let k = 0; k < fns.length; k++) {
      const x = v;
      v = await DBOS.runStep(() => fns[k]!(x), { name: names[k]! });
    }
    return v;
  }, { name: 'chain' });
  await DBOS.launch();
  const run: RunFn = (input) => chain(input);
  return { run, close: () => DBOS.shutdown() };
}

export const system: SystemAdapter = {
  id: 'dbos',
  chain: (): RunFn => noDag('plain chain'),
  fan: (): RunFn => noDag('fan'),
  pump: (): Pump => noDag('pump'),
  durableChain,
};
