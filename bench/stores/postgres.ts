/**
 * Append latency and throughput of the PostgreSQL run store, for appends of 1, 10 and 100
 * events, on a real server (a quick, stand-alone measurement; not part of `npm run bench`):
 *
 *   node --import tsx bench/stores/postgres.ts [url] [--seconds 3] [--concurrency 1,16]
 *
 * url defaults to $LLMO_PG_URL (bash scripts/pg-local.sh start prints one). Each case runs in a
 * fresh schema that is dropped afterwards. Prints one line per case: per-append latency
 * p50/p99 (ms), appends/s and events/s.
 * @module
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { StoredEvent } from '../../src/runtime/store.ts';
import { createPostgresStore } from '../../src/stores/postgres/index.ts';

interface Case {
  readonly batch: number;
  readonly concurrency: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function measure(url: string, c: Case, seconds: number): Promise<string> {
  const schema = `llmo_bench_${process.pid}_${c.batch}_${c.concurrency}`;
  const store = await createPostgresStore({ url, schema, pool: { max: 4 } });
  const latencies: number[] = [];
  let events = 0;
  try {
    const T0 = Date.now();
    const end = performance.now() + seconds * 1000;
    // One run per concurrent writer: each appends its next `batch` events once the previous append is durable.
    await Promise.all(Array.from({ length: c.concurrency }, async (_, w) => {
      const runId = `bench-${w}`;
      await store.createRun({ runId, topology: 'bench', version: 'v', input: null, createdAt: T0, owner: 'bench', leaseMs: 60_000 });
      let seq = 0;
      while (performance.now() < end) {
        const batch: StoredEvent[] = [];
        for (let i = 0; i < c.batch; i++, seq++) {
          batch.push({ runId, seq, ts: T0 + seq, type: 'node.completed', nodeId: `n${seq % 10}`, output: { text: 'a model answer of modest size', tokens: 7 } });
        }
        const t = performance.now();
        await store.append(batch);
        latencies.push(performance.now() - t);
        events += c.batch;
      }
    }));
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
  latencies.sort((a, b) => a - b);
  const secs = seconds;
  return `batch ${String(c.batch).padStart(3)} x ${String(c.concurrency).padStart(2)} writers: p50 ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms, `
    + `${Math.round(latencies.length / secs)} appends/s, ${Math.round(events / secs)} events/s (${(1000 * secs / events * 1000).toFixed(1)} us/event)`;
}

async function main(): Promise<void> {
  const url = process.argv[2]?.startsWith('postgres') ? process.argv[2] : process.env.LLMO_PG_URL;
  if (url === undefined) throw new Error('usage: node --import tsx bench/stores/postgres.ts <postgres://...> (or set LLMO_PG_URL)');
  const seconds = Number(arg('--seconds') ?? 3);
  const concurrency = (arg('--concurrency') ?? '1,16').split(',').map(Number);
  for (const w of concurrency) {
    for (const batch of [1, 10, 100]) console.log(await measure(url, { batch, concurrency: w }, seconds));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
