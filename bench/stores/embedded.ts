/**
 * Embedded run stores side by side, in one process and one run: our SQLite store
 * (better-sqlite3, WAL, group commit) against PGlite (Postgres compiled to WASM, on
 * a real directory) with an equivalent schema, both committing one transaction per
 * tick holding every event recorded in that tick.
 *
 *   node --import tsx bench/stores/embedded.ts              # 1000 and 10 runs x 10 events, 3 repetitions
 *   node --import tsx bench/stores/embedded.ts 2000,100 5   # run counts, repetitions
 *
 * Each repetition: create N runs, then 10 rounds in which every run appends one event
 * (a node.completed with a ~100-byte output) in the same tick; the time of the 10 rounds
 * divided by N x 10 is the cost per event. Systems alternate within each repetition;
 * medians are reported. PGlite runs twice: with statements per event as our store runs them
 * (read the row, insert the event, update the row), and at its best case, one INSERT of all
 * the tick's events and one UPDATE of all their runs from a JSON array (no seq checks).
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createSqliteStore } from '../../src/stores/sqlite/index.ts';
import type { StoredEvent } from '../../src/runtime/store.ts';

const SCENARIOS = (process.argv[2] ?? '1000,10').split(',').map(Number);
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

const pgliteSchema = `
      CREATE TABLE runs (run_id text PRIMARY KEY, topology text NOT NULL, version text NOT NULL, status text NOT NULL,
        input jsonb, created_at bigint NOT NULL, updated_at bigint NOT NULL, last_seq integer NOT NULL,
        lease_owner text, lease_until bigint);
      CREATE TABLE events (run_id text NOT NULL, seq integer NOT NULL, ts bigint NOT NULL, type text NOT NULL,
        node_id text, body jsonb NOT NULL, PRIMARY KEY (run_id, seq));`;

/** PGlite as our store would use it: per event, read the run's row, insert the event, update the row; one transaction per tick. */
const pglitePerEvent: System = {
  name: 'pglite (file, statements per event)',
  async open(dir) {
    const db = new PGlite(join(dir, 'pg'));
    await db.exec(pgliteSchema);
    return {
      async create(ids) {
        await db.transaction(async (tx) => {
          for (const id of ids) {
            await tx.query(`INSERT INTO runs VALUES ($1, 'w1', 'v1', 'running', $2, $3, $3, -1, 'bench', $4)`, [id, JSON.stringify({ q: id }), Date.now(), Date.now() + 60_000]);
          }
        });
      },
      async tick(events) {
        await db.transaction(async (tx) => {
          for (const e of events) {
            await tx.query('SELECT status, last_seq FROM runs WHERE run_id = $1', [e.runId]);
            await tx.query('INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6)', [e.runId, e.seq, e.ts, e.type, e.nodeId ?? null, JSON.stringify(e)]);
            await tx.query('UPDATE runs SET last_seq = $2, updated_at = $3 WHERE run_id = $1', [e.runId, e.seq, e.ts]);
          }
        });
      },
      close: () => db.close(),
    };
  },
};

/** PGlite at its best: the tick's events in one INSERT and one UPDATE, each from a JSON array (no seq checks). */
const pglite: System = {
  name: 'pglite (file, set-based per tick)',
  async open(dir) {
    const db = new PGlite(join(dir, 'pg'));
    await db.exec(pgliteSchema);
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

async function measure(system: System, RUNS: number): Promise<number> {
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

const systems = [sqlite('process'), sqlite('power'), pglitePerEvent, pglite];
console.log(`embedded run stores: N runs x ${EVENTS_PER_RUN} events, every run appending one event per tick, one commit per tick; median of ${REPS} (Node ${process.version})`);
for (const runs of SCENARIOS) {
  const samples = new Map<string, number[]>(systems.map((s) => [s.name, []]));
  for (let rep = 0; rep < REPS; rep++) {
    // Rotate the order each repetition so no system always runs first.
    for (let k = 0; k < systems.length; k++) {
      const s = systems[(rep + k) % systems.length]!;
      samples.get(s.name)!.push(await measure(s, runs));
    }
  }
  const base = median(samples.get(systems[0]!.name)!);
  console.log(`\n${runs} runs (${runs} events per commit)`);
  console.log('system'.padEnd(44) + 'us/event'.padStart(10) + 'x ours'.padStart(10) + '   samples');
  for (const s of systems) {
    const m = median(samples.get(s.name)!);
    console.log(s.name.padEnd(44) + m.toFixed(2).padStart(10) + (m / base).toFixed(1).padStart(10) + '   ' + samples.get(s.name)!.map((x) => x.toFixed(2)).join(' '));
  }
}
