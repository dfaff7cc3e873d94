// The PostgreSQL stores through a real PgBouncer in transaction pooling mode (Debian's package,
// started by scripts/pgbouncer-local.sh in front of the test server): consecutive statements of one
// connection may land on different server sessions, so nothing a store does may lean on session
// state (session advisory locks, startup parameters, prepared statements by name). The run store's
// conformance suite and its migrations, claims and commit statement; the budget ledger's, audit
// store's and key store's conformance suites.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuditStore } from '../../src/governance/audit/store.ts';
import { openLedger } from '../../src/governance/index.ts';
import type { RunStore } from '../../src/runtime/store.ts';
import { createPostgresKeyStore } from '../../src/server/keys/postgres.ts';
import { createPostgresStore, MIGRATIONS } from '../../src/stores/postgres/index.ts';
import { describeLedger } from '../governance/budget-ledger-conformance.ts';
import { describeKeyStore } from '../server/key-store-conformance.ts';
import { pgSchemas } from '../support/pg-schemas.ts';
import { describeAuditStore } from './audit-conformance.ts';
import { describeRunStore } from './conformance.ts';
import { freePort } from '../support/free-port.ts';

const { url, fresh: freshSchema, admin, dropAll } = pgSchemas('llmo_pgb');
const script = path.join(import.meta.dirname, '../../scripts/pgbouncer-local.sh');

function pooler(cmd: 'install' | 'start' | 'stop', env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [script, cmd], { env: { ...process.env, ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

/** Starts a pooler in its own directory and port; resolves with its URL and its environment (for stop). */
async function startPooler(poolSize: number): Promise<{ url: string; env: Record<string, string> }> {
  const env = { PGB_HOME: mkdtempSync(path.join(tmpdir(), 'llmo-pgb-')), PGB_PORT: String(await freePort()), PGB_UPSTREAM: url, PGB_POOL_SIZE: String(poolSize) };
  const started = await pooler('start', env);
  const at = /^LLMO_PGBOUNCER_URL=(\S+)\s*$/m.exec(started.stdout)?.[1] ?? '';
  if (started.code !== 0 || at === '') throw new Error(`scripts/pgbouncer-local.sh start failed (${started.code}): ${started.stderr}`);
  return { url: at, env };
}

// PgBouncer comes from Debian's package (installed by the script as root; .ci/run installs it). Outside
// CI, without it and without root to install it, the suite skips and says why; under CI=true it runs
// and a missing pooler fails it.
const installed = url === '' || process.env['CI'] === 'true' ? undefined : await pooler('install', {});
if (installed !== undefined && installed.code !== 0) console.warn(`[pgbouncer] skipping the PgBouncer suite: ${installed.stderr.trim()}`);

describe.skipIf(url === '' || (installed !== undefined && installed.code !== 0))('PostgreSQL store through PgBouncer (transaction pooling)', () => {
  const started: Record<string, string>[] = [];
  // Twenty server sessions (statements of one client connection spread over them), and one (every
  // client connection shares it, so one's prepared statement is there when another prepares its own).
  let bouncer = '';
  let narrow = '';

  beforeAll(async () => {
    const wide = await startPooler(20);
    started.push(wide.env);
    bouncer = wide.url;
    const one = await startPooler(1);
    started.push(one.env);
    narrow = one.url;
  }, 200_000);

  afterAll(async () => {
    await dropAll();
    for (const env of started) {
      await pooler('stop', env);
      rmSync(env['PGB_HOME']!, { recursive: true, force: true });
    }
  }, 60_000);

  const open = (schema: string, max = 10): Promise<RunStore> => createPostgresStore({ url: bouncer, schema, pool: { max } });

  describeRunStore('postgres', () => open(freshSchema()));

  /** The pooler's URL for a schema (`?schema=`), as `openLedger` and `openAuditStore` take it. */
  const through = (schema: string): string => {
    const u = new URL(bouncer);
    u.searchParams.set('schema', schema);
    return u.href;
  };
  describeLedger('postgres', () => openLedger(through(freshSchema())), async () => {
    const s = freshSchema();
    return [await openLedger(through(s)), await openLedger(through(s))];
  });
  describeAuditStore('PostgreSQL', {
    async fresh() {
      const schema = freshSchema();
      const t = `"${schema}".llmo_audit`;
      return {
        store: await openAuditStore(through(schema)),
        reopen: () => openAuditStore(through(schema)),
        tamper: {
          text: (stream, seq) => admin(async (c) => (await c.query<{ record: string }>(`SELECT record FROM ${t} WHERE stream = $1 AND seq = $2`, [stream, seq])).rows[0]!.record),
          setText: (stream, seq, text) => admin(async (c) => { await c.query(`UPDATE ${t} SET record = $3 WHERE stream = $1 AND seq = $2`, [stream, seq, text]); }),
          remove: (stream, seq) => admin(async (c) => { await c.query(`DELETE FROM ${t} WHERE stream = $1 AND seq = $2`, [stream, seq]); }),
        },
      };
    },
  });
  describeKeyStore('PostgreSQL', () => createPostgresKeyStore({ url: bouncer, schema: freshSchema() }));

  it('stores opening at once through the pooler apply each migration once', async () => {
    const schema = freshSchema();
    const stores = await Promise.all(Array.from({ length: 6 }, () => open(schema, 2)));
    await Promise.all(stores.map((s) => s.close()));
    await admin(async (c) => {
      const rows = await c.query<{ version: number }>(`SELECT version FROM "${schema}".llmo_schema ORDER BY version`);
      expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      // no advisory lock is left held by a server session the pooler keeps
      const held = await c.query('SELECT 1 FROM pg_locks WHERE locktype = $1', ['advisory']);
      expect(held.rowCount).toBe(0);
    });
  });

  it('a commit statement the pooler\'s server session already holds by name: it is sent unnamed from then on, warned once, and writes go on', async () => {
    const schema = freshSchema();
    const warnings: string[] = [];
    const logger = { child: () => logger, error: () => undefined, info: () => undefined, debug: () => undefined, warn: (o: object | string, m?: string) => void warnings.push(m ?? String(o)) };
    const a = await createPostgresStore({ url: narrow, schema, pool: { max: 2 } });
    const b = await createPostgresStore({ url: narrow, schema, pool: { max: 2 }, logger });
    try {
      // a prepares the commit statement on the pooler's one server session; b's first commit
      // prepares the same name there: 42P05, the statement did not run
      await a.createRun({ runId: 'a1', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 60_000 });
      for (let i = 0; i < 20; i++) {
        await b.createRun({ runId: `b${i}`, topology: 't', version: 'v', input: i, createdAt: 1, owner: 'o', leaseMs: 60_000, events: [{ runId: `b${i}`, seq: 0, ts: 1, type: 'run.started' }] });
        await b.append([{ runId: `b${i}`, seq: 1, ts: 2, type: 'node.started', nodeId: 'n' }]);
      }
      expect(warnings.filter((w) => /unnamed/.test(w))).toHaveLength(1);
      for (let i = 0; i < 20; i++) expect((await a.history(`b${i}`)).map((e) => e.seq)).toEqual([0, 1]);
    } finally {
      await a.close();
      await b.close();
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
