/**
 * Embedded run stores side by side, in one process and one run: our SQLite store
 * (better-sqlite3, WAL, group commit) against PGlite (Postgres compiled to WASM, on
 * a real directory) with an equivalent schema, both committing one transaction per
 * tick holding every event recorded in that tick.
 *
 *   node --import tsx bench/stores/embedded.ts            # 1000 runs x 10 events, 3 repetitions
 *   node --import tsx bench/stores/embedded.ts 2000 5     # runs, repetitions
 *
 * Each repetition: create N runs, then 10 rounds in which every run appends one event
 * (a node.completed with a ~100-byte output) in the same tick; the time of the 10 rounds
 * divided by N x 10 is the cost per event. Systems alternate within each repetition;
 * medians are reported. PGlite is given its best case: one INSERT of all the tick's
 * events and one UPDATE of all their runs, each from a JSON array (not a statement per
 * event, as our store runs).
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createSqliteStore } from '../../src/stores/sqlite/index.ts';
import type { StoredEvent } from '../../src/runtime/store.ts';

const RUNS = Number(process.argv[2] ?? 1000);
const REPS = Number(process.argv[3] ?? 3);
const EVENTS_PER_RUN = 10;
const OUTPUT = 'o'.repeat(100);

interface System {
  readonly name: string;
  open(dir: string): Promise<{ create(ids: string[]): Promise<void>; tick(events: StoredEvent[]): Promise<void>; close(): Promise<void> }>;
}

const event = (runId: string, seq: number): StoredEvent => ({ runId, seq, ts: Date.now(), type: 'node.completed', nodeId: `n${seq}`, output: OUTPUT });

const sqlite = (durability: 'process' | 'power'): System => ({
  name: `sqlite (ours, durability ${durability})`,
  async open(dir) {
    const store = createSqliteStore({ path: join(dir, 'runs.db'), durability });
    return {
      async create(ids) {
        await Promise.all(ids.map((runId) => store.createRun({ runId, topology: 'w1', version: 'v1', input: { q: runId }, createdAt: Date.now(), owner: 'bench', leaseMs: 60_000 })));
      },
      // One append per event, all in one tick: the store's write queue commits them as one transaction.
      async tick(events) {
        await Promise.all(events.map((e) => store.append([e])));
      },
      close: () => store.close(),
    };
  },
});

const pglite: System = {
  name: 'pglite (file, one transaction per tick)',
  async open(dir) {
    const db = new PGlite(join(dir, 'pg'));
    await db.exec(`
      CREATE TABLE runs (run_id text PRIMARY KEY, topology text NOT NULL, version text NOT NULL, status text NOT NULL,
        input jsonb, created_at bigint NOT NULL, updated_at bigint NOT NULL, last_seq integer NOT NULL,
        lease_owner text, lease_until bigint);
      CREATE TABLE events (run_id text NOT NULL, seq integer NOT NULL, ts bigint NOT NULL, type text NOT NULL,
        node_id text, body jsonb NOT NULL, PRIMARY KEY (run_id, seq));`);
    return {
      async create(ids) {
        const now = Date.now();
        await db.query(
          `INSERT INTO runs SELECT r.id, 'w1', 'v1', 'running', jsonb_build_object('q', r.id), $2::bigint, $2::bigint, -1, 'bench', $2::bigint + 60000
           FROM jsonb_array_elements_text($1::jsonb) AS r(id)`,
          [JSON.stringify(ids), now],
        );
      },
      async tick(events) {
        await db.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO events SELECT e->>'runId', (e->>'seq')::int, (e->>'ts')::bigint, e->>'type', e->>'nodeId', e
             FROM jsonb_array_elements($1::jsonb) AS e`,
            [JSON.stringify(events)],
          );
          await tx.query(
            `UPDATE runs SET last_seq = (e->>'seq')::int, updated_at = (e->>'ts')::bigint
             FROM jsonb_array_elements($1::jsonb) AS e WHERE runs.run_id = e->>'runId'`,
            [JSON.stringify(events)],
          );
        });
      },
      close: () => db.close(),
    };
  },
};

async function measure(system: System): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'llmo-bench-store-'));
  try {
    const s = await system.open(dir);
    const ids = Array.from({ length: RUNS }, (_, i) => `run-${i}`);
    await s.create(ids);
    const t0 = process.hrtime.bigint();
    for (let seq = 0; seq < EVENTS_PER_RUN; seq++) await s.tick(ids.map((id) => event(id, seq)));
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    await s.close();
    return us / (RUNS * EVENTS_PER_RUN);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const systems = [sqlite('process'), sqlite('power'), pglite];
const samples = new Map<string, number[]>(systems.map((s) => [s.name, []]));
for (let rep = 0; rep < REPS; rep++) {
  // Rotate the order each repetition so neither side always runs warm.
  for (let k = 0; k < systems.length; k++) {
    const s = systems[(rep + k) % systems.length]!;
    samples.get(s.name)!.push(await measure(s));
  }
}
const base = median(samples.get(systems[0]!.name)!);
console.log(`embedded run stores: ${RUNS} runs x ${EVENTS_PER_RUN} events, group commit per tick, median of ${REPS} (Node ${process.version})`);
console.log('system'.padEnd(44) + 'us/event'.padStart(10) + 'x ours'.padStart(10) + '   samples');
for (const s of systems) {
  const m = median(samples.get(s.name)!);
  console.log(s.name.padEnd(44) + m.toFixed(2).padStart(10) + (m / base).toFixed(1).padStart(10) + '   ' + samples.get(s.name)!.map((x) => x.toFixed(2)).join(' '));
}
