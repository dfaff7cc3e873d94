/**
 * llm-orchestrator with a run store (W15–W17): the same chain topology as W1, run
 * by an engine given our embedded SQLite store or our PostgreSQL store.
 * @module
 */
import { join } from 'node:path';
import { createEngine, type AnyTopology, type Engine } from '../../src/index.ts';
import type { RunStore } from '../../src/runtime/store.ts';
import { createSqliteStore } from '../../src/stores/sqlite/index.ts';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { chainTopology } from './llm-orchestrator-chain.ts';
import type { DurableChain, DurableSetup, NodeFn } from './types.ts';

/** Opens our store for `setup`: `runs.db` in its directory, or its fresh Postgres database. */
export async function openBenchStore(setup: DurableSetup): Promise<RunStore> {
  if (setup.backend === 'sqlite') return createSqliteStore({ path: join(setup.dir, 'runs.db') });
  if (setup.pgUrl === undefined) throw new Error('postgres setup without a URL');
  return createPostgresStore({ url: setup.pgUrl });
}

/** A run function over `engine` that throws unless the run completed. */
export function durableRunner(engine: Engine, t: AnyTopology): (input: number) => Promise<number> {
  return async (input) => {
    const r = await engine.run(t, input);
    if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error?.message}`);
    return r.output as number;
  };
}

/** W15: the W1 chain on an engine with our store. */
export async function durableChain(fns: readonly NodeFn[], setup: DurableSetup): Promise<DurableChain> {
  const store = await openBenchStore(setup);
  const engine = createEngine({ store });
  const plain = createEngine();
  return {
    run: durableRunner(engine, chainTopology(fns, 1024)),
    plain: durableRunner(plain, chainTopology(fns, 1024)),
    async close() {
      await plain.shutdown();
      await engine.shutdown();
      await store.close();
    },
  };
}
