/**
 * LangGraph.js with a checkpointer (W15): the W1 chain as a StateGraph compiled with
 * `SqliteSaver` (better-sqlite3, WAL; `synchronous=NORMAL` as our store) or
 * `PostgresSaver`, each run on a thread of its own, `durability: 'sync'` (a step's
 * checkpoint is written before the next step starts, the guarantee our store gives).
 * @module
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BaseCheckpointSaver } from '@langchain/langgraph';
import { SqliteSaver } from '@langchain/langgraph-checkpoint-sqlite';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { defineChain } from './langgraph-chain.ts';
import type { DurableChain, DurableSetup, NodeFn } from './types.ts';

let thread = 0;

/** W15: the chain checkpointed step by step in `setup`'s store. */
export async function durableChain(fns: readonly NodeFn[], setup: DurableSetup): Promise<DurableChain> {
  let saver: BaseCheckpointSaver;
  let close: () => Promise<void>;
  if (setup.backend === 'sqlite') {
    const db = new Database(join(setup.dir, 'checkpoints.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    saver = new SqliteSaver(db);
    close = async () => {
      db.close();
    };
  } else {
    if (setup.pgUrl === undefined) throw new Error('postgres setup without a URL');
    const pg = PostgresSaver.fromConnString(setup.pgUrl);
    await pg.setup();
    saver = pg;
    close = () => pg.end();
  }
  const app = defineChain(fns).compile({ checkpointer: saver });
  const plainApp = defineChain(fns).compile();
  const recursionLimit = fns.length + 10;
  return {
    run: async (input) => {
      const s = await app.invoke({ v: input }, { recursionLimit, durability: 'sync', configurable: { thread_id: `t${++thread}` } });
      return s.v as number;
    },
    plain: async (input) => (await plainApp.invoke({ v: input }, { recursionLimit })).v as number,
    close,
  };
}
