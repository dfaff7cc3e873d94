// The PostgreSQL run store through a real PgBouncer in transaction pooling mode (Debian's package,
// started by scripts/pgbouncer-local.sh in front of the test server): consecutive statements of one
// connection may land on different server sessions, so nothing the store does may lean on session
// state (session advisory locks, startup parameters, prepared statements by name).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunStore } from '../../src/runtime/store.ts';
import { createPostgresStore, MIGRATIONS } from '../../src/stores/postgres/index.ts';
import { describeRunStore } from './conformance.ts';

const url = inject('pgUrl');
const script = path.join(import.meta.dirname, '../../scripts/pgbouncer-local.sh');
const base = `llmo_b${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let n = 0;
const schemas = new Set<string>();
const freshSchema = (): string => {
  const s = `${base}_${n++}`;
  schemas.add(s);
  return s;
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function pooler(cmd: 'start' | 'stop', env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [script, cmd], { env: { ...process.env, ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe.skipIf(url === '')('PostgreSQL store through PgBouncer (transaction pooling)', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'llmo-pgb-'));
  let env: Record<string, string> = {};
  let bouncer = '';

  beforeAll(async () => {
    env = { PGB_HOME: home, PGB_PORT: String(await freePort()), PGB_UPSTREAM: url };
    const started = await pooler('start', env);
    bouncer = /^LLMO_PGBOUNCER_URL=(\S+)\s*$/m.exec(started.stdout)?.[1] ?? '';
    if (started.code !== 0 || bouncer === '') throw new Error(`scripts/pgbouncer-local.sh start failed (${started.code}): ${started.stderr}`);
  }, 200_000);

  afterAll(async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    } finally {
      await c.end();
    }
    await pooler('stop', env);
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  const open = (schema: string, max = 10): Promise<RunStore> => createPostgresStore({ url: bouncer, schema, pool: { max } });

  describeRunStore('postgres', () => open(freshSchema()));

  it('stores opening at once through the pooler apply each migration once', async () => {
    const schema = freshSchema();
    const stores = await Promise.all(Array.from({ length: 6 }, () => open(schema, 2)));
    await Promise.all(stores.map((s) => s.close()));
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const rows = await c.query<{ version: number }>(`SELECT version FROM "${schema}".llmo_schema ORDER BY version`);
      expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      // no advisory lock is left held by a server session the pooler keeps
      const held = await c.query('SELECT 1 FROM pg_locks WHERE locktype = $1', ['advisory']);
      expect(held.rowCount).toBe(0);
    } finally {
      await c.end();
    }
  });

  it('two stores claiming through the pooler never take the same run, and together take them all', async () => {
    const schema = freshSchema();
    const a = await open(schema, 4);
    const b = await open(schema, 4);
    try {
      const RUNS = 200;
      await Promise.all(Array.from({ length: RUNS }, (_, i) =>
        a.createRun({ runId: `r${i}`, topology: 't', version: 'v', input: i, createdAt: i, owner: 'gone', leaseMs: 0 })));
      const claim = (s: RunStore, owner: string) => s.claim({ owner, leaseMs: 60_000, limit: 25, now: Date.now() + 1, topologies: ['t'] });
      const taken: string[][] = [[], []];
      for (let round = 0; round < 10; round++) {
        const [x, y] = await Promise.all([claim(a, 'A'), claim(b, 'B')]);
        taken[0]!.push(...x.map((r) => r.runId));
        taken[1]!.push(...y.map((r) => r.runId));
      }
      const all = [...taken[0]!, ...taken[1]!];
      expect(new Set(all).size).toBe(all.length);
      expect(all.length).toBe(RUNS);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
