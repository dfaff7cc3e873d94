/**
 * A quick stand-alone measurement of the durability overhead of W15's concurrent case,
 * for working on a store (not part of `npm run bench`): N concurrent runs of the 10-node
 * chain on an engine with the store, then on one without, alternating for a few rounds;
 * prints each round and the median overhead in µs per node (the first round is warm-up).
 *
 *   node --import tsx bench/stores/chain.ts sqlite [runs=1000] [rounds=5]
 *   node --import tsx bench/stores/chain.ts postgres [runs=1000] [rounds=5]   # needs LLMO_PG_URL
 *
 * The SQLite file goes to a temp directory; the Postgres store uses a fresh schema, dropped afterwards.
 * Besides wall time, each round reports this process's CPU time per node (user + system), which
 * a busy machine disturbs much less: for SQLite it is all the store's work; for Postgres, the
 * client's share only. The last line is `RESULT <median wall overhead> <median CPU overhead>`,
 * for scripts that compare two checkouts.
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createEngine, type AnyTopology, type Engine } from '../../src/index.ts';
import type { RunStore } from '../../src/runtime/store.ts';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';
import { createSqliteStore } from '../../src/stores/sqlite/index.ts';
import { chainTopology } from '../systems/llm-orchestrator-chain.ts';
import { trivialChain } from '../workloads/closures.ts';

const NODES = 10;

async function main(): Promise<void> {
  const kind = process.argv[2] ?? 'sqlite';
  const runs = Number(process.argv[3] ?? 1000);
  const rounds = Number(process.argv[4] ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'llmo-bench-chain-'));
  const schema = `llmo_bench_chain_${process.pid}`;
  const url = process.env['LLMO_PG_URL'];
  if (kind !== 'sqlite' && url === undefined) throw new Error('set LLMO_PG_URL for the postgres store');
  const store: RunStore = kind === 'sqlite' ? createSqliteStore({ path: join(dir, 'runs.db') }) : await createPostgresStore({ url: url!, schema });
  const durable = createEngine({ store });
  const plain = createEngine();
  const t = chainTopology(trivialChain(NODES), 1024);
  const tp = chainTopology(trivialChain(NODES), 1024);
  let base = 0;
  const round = async (engine: Engine, topology: AnyTopology): Promise<[number, number]> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const results = await Promise.all(Array.from({ length: runs }, (_, i) => engine.run(topology, base + i)));
    const c = process.cpuUsage(c0);
    const us = ((performance.now() - t0) * 1000) / (runs * NODES);
    const cpu = (c.user + c.system) / (runs * NODES);
    results.forEach((r, i) => {
      if (r.status !== 'completed' || r.output !== base + i + NODES) throw new Error(`run ${i}: ${r.status} ${String(r.output)}`);
    });
    base += runs;
    return [us, cpu];
  };
  const overheads: number[] = [];
  const cpuOverheads: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const [d, dc] = await round(durable, t);
      const [p, pc] = await round(plain, tp);
      console.log(`round ${r}${r === 0 ? ' (warm-up)' : ''}: durable ${d.toFixed(2)} µs/node (CPU ${dc.toFixed(2)}), plain ${p.toFixed(2)} (CPU ${pc.toFixed(2)}), overhead ${(d - p).toFixed(2)} (CPU ${(dc - pc).toFixed(2)})`);
      if (r > 0) {
        overheads.push(d - p);
        cpuOverheads.push(dc - pc);
      }
    }
  } finally {
    await durable.shutdown();
    await plain.shutdown();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    if (kind !== 'sqlite') {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    }
  }
  const median = (xs: number[]): string => ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN).toFixed(2);
  console.log(`RESULT ${median(overheads)} ${median(cpuOverheads)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
