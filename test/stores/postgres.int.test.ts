// The PostgreSQL run store against a real server (test/stores/global-setup.ts provides its URL):
// the conformance suite, concurrent claimers on two pools, migrations, STORE_TOO_NEW, and a
// server restart mid-load on a private instance this file starts itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { isStoreError, isValidationError } from '../../src/errors.ts';
import type { RunStore, StoredEvent } from '../../src/runtime/store.ts';
import { newWriteId, writeBatch, type Write } from '../../src/stores/postgres/commit.ts';
import { fastPlan, fastQuery } from '../../src/stores/postgres/fast-commit.ts';
import { createPostgresStore, MIGRATIONS, SCHEMA_VERSION } from '../../src/stores/postgres/index.ts';
import { newRow } from '../../src/stores/rows.ts';
import { openStore } from '../../src/stores/open.ts';
import { describeRunStore } from './conformance.ts';
import { pgScript, urlOf } from './global-setup.ts';
import { freePort } from '../support/free-port.ts';

const url = inject('pgUrl');
const base = `llmo_t${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let n = 0;
const freshSchema = (): string => `${base}_${n++}`;
const schemas = new Set<string>();

async function admin<T>(fn: (c: pg.Client) => Promise<T>, at = url): Promise<T> {
  const c = new pg.Client({ connectionString: at });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function open(schema = freshSchema(), extra: { retryMs?: number; pool?: { max?: number } } = {}): Promise<RunStore> {
  schemas.add(schema);
  return createPostgresStore({ url, schema, ...extra });
}

const schemaOf = new WeakMap<RunStore, string>();

const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isStoreError(e) ? e.code : isValidationError(e) ? `validation:${e.code}` : `other:${String(e)}`;
  }
};

describe.skipIf(url === '')('PostgreSQL store', () => {
  afterAll(async () => {
    if (schemas.size === 0) return;
    await admin(async (c) => {
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    });
  });

  describeRunStore(
    'postgres',
    async () => {
      const schema = freshSchema();
      const store = await open(schema);
      schemaOf.set(store, schema);
      return store;
    },
    undefined,
    { reopen: async (closed) => open(schemaOf.get(closed)) },
  );

  it('two pools claiming concurrently never take the same run, and together take them all', async () => {
    const schema = freshSchema();
    const [a, b] = await Promise.all([open(schema, { pool: { max: 4 } }), open(schema, { pool: { max: 4 } })]);
    try {
      const T0 = 1_700_000_000_000;
      await Promise.all(Array.from({ length: 300 }, (_, i) =>
        a.createRun({ runId: `r${i}`, topology: 't', version: 'v', input: i, createdAt: T0 + i, owner: 'gone', leaseMs: 0 })));
      const take = async (store: RunStore, who: string): Promise<string[]> => {
        const mine: string[] = [];
        for (;;) {
          const got = await Promise.all([0, 1, 2].map((k) => store.claim({ owner: `${who}${k}`, leaseMs: 60_000, limit: 5, now: T0 + 1000 })));
          const ids = got.flat().map((r) => r.runId);
          if (ids.length === 0) return mine;
          mine.push(...ids);
        }
      };
      const [fromA, fromB] = await Promise.all([take(a, 'a'), take(b, 'b')]);
      const all = [...fromA, ...fromB];
      expect(new Set(all).size).toBe(all.length);
      expect(all.length).toBe(300);
      expect(fromA.length).toBeGreaterThan(0);
      expect(fromB.length).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('migrations: stores opening at once apply each version once; opening again applies nothing', async () => {
    const schema = freshSchema();
    const stores = await Promise.all(Array.from({ length: 5 }, () => open(schema, { pool: { max: 2 } })));
    await Promise.all(stores.map((s) => s.close()));
    const again = await open(schema);
    await again.close();
    const rows = await admin((c) => c.query<{ version: number }>(`SELECT version FROM "${schema}".llmo_schema ORDER BY version`));
    expect(rows.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('a database from a newer schema version is STORE_TOO_NEW, and left as it is', async () => {
    const schema = freshSchema();
    const first = await open(schema);
    await first.createRun({ runId: 'kept', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 1 });
    await first.close();
    await admin((c) => c.query(`INSERT INTO "${schema}".llmo_schema (version, description) VALUES ($1, 'from the future')`, [SCHEMA_VERSION + 1]));
    const err = await open(schema).then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err) && err.code).toBe('STORE_TOO_NEW');
    expect(isStoreError(err) && err.message).toContain(`version ${SCHEMA_VERSION + 1}`);
    const left = await admin((c) => c.query(`SELECT run_id FROM "${schema}".llmo_runs`));
    expect(left.rows).toEqual([{ run_id: 'kept' }]);
  });

  it('bad options are OPTIONS_INVALID naming the field; a server that is not there is STORE_UNAVAILABLE (retriable)', async () => {
    expect(await codeOf(createPostgresStore({ url: 'mysql://x' }))).toBe('validation:OPTIONS_INVALID');
    expect(await codeOf(createPostgresStore({ url, schema: 'Bad-Name' }))).toBe('validation:OPTIONS_INVALID');
    const port = await freePort();
    const err = await createPostgresStore({ url: `postgres://llmo:secret@127.0.0.1:${port}/llmo`, retryMs: 0 }).then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err) && [err.code, err.retriable]).toEqual(['STORE_UNAVAILABLE', true]);
    expect(isStoreError(err) && err.message).not.toContain('secret');
  });

  it('a batch run again after an unknown COMMIT outcome writes nothing twice; the same content from another write is still a conflict', async () => {
    const schema = freshSchema();
    await (await open(schema)).close();
    const run = { runId: 'r', topology: 't', version: 'v', input: 1, createdAt: 1, owner: 'o', leaseMs: 1 };
    const ev = (seq: number): StoredEvent => ({ runId: 'r', seq, ts: seq, type: 'node.completed', nodeId: 'n', output: seq });
    const batch: Write[] = [
      { kind: 'create', id: newWriteId(), run, row: newRow(run) },
      { kind: 'append', id: newWriteId(), events: [ev(0), ev(1)] },
    ];
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const inTx = async (w: readonly Write[]): Promise<string> => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await writeBatch(c, `"${schema}"`, w);
        await c.query('COMMIT');
        return 'committed';
      } catch (e) {
        await c.query('ROLLBACK');
        return isStoreError(e) ? e.code : String(e);
      } finally {
        c.release();
      }
    };
    try {
      expect(await inTx(batch)).toBe('committed');
      expect(await inTx(batch)).toBe('committed'); // the re-run of a batch that did commit
      const a = batch[1] as Extract<Write, { kind: 'append' }>;
      expect(await inTx([{ kind: 'create', id: newWriteId(), run, row: newRow(run) }])).toBe('RUN_EXISTS');
      expect(await inTx([{ ...a, id: newWriteId() }])).toBe('SEQ_CONFLICT');
      expect(await inTx([{ ...a, events: [ev(0), { ...ev(1), output: 'other' }] }])).toBe('SEQ_CONFLICT');
      const events = await admin((c) => c.query<{ seq: number }>(`SELECT seq FROM "${schema}".llmo_events ORDER BY seq`));
      expect(events.rows.map((r) => r.seq)).toEqual([0, 1]);
      const runs = await admin((c) => c.query<{ last_seq: number }>(`SELECT last_seq FROM "${schema}".llmo_runs`));
      expect(runs.rows).toEqual([{ last_seq: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('one-statement commit: new runs with their events folded in, guarded updates; a failed guard writes nothing; the full path re-runs it idempotently', async () => {
    const schema = freshSchema();
    const store = await open(schema);
    await store.createRun({ runId: 'old', topology: 't', version: 'v', input: 0, createdAt: 1, owner: 'o', leaseMs: 1 });
    await store.close();
    const s = `"${schema}"`;
    const run = { runId: 'new', topology: 't', version: 'v', input: { q: 1 }, createdAt: 2, owner: 'o', leaseMs: 5 };
    const ev = (runId: string, seq: number, type = 'node.completed'): StoredEvent => ({ runId, seq, ts: 10 + seq, type, nodeId: 'n', output: seq });
    const batch: Write[] = [
      { kind: 'create', id: newWriteId(), run, row: newRow(run) },
      { kind: 'append', id: newWriteId(), events: [ev('new', 0, 'run.started'), ev('new', 1)] },
      { kind: 'append', id: newWriteId(), events: [ev('old', 0, 'run.started'), ev('old', 1), { runId: 'old', seq: 2, ts: 20, type: 'run.completed', output: 'done' }] },
    ];
    const plan = fastPlan(batch)!;
    expect(plan.created.map((c) => [c.row.runId, c.row.lastSeq])).toEqual([['new', 1]]);
    expect(plan.updated.map((u) => u.runId)).toEqual(['old']);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      // A guard that fails ('old' is not at seq 4) fails the statement: nothing of it is written, not even the valid run.
      const stale = fastPlan([batch[0]!, batch[1]!, { kind: 'append', id: newWriteId(), events: [ev('old', 5)] }])!;
      const err = await c.query(fastQuery(s, stale)).then(() => undefined, (e: unknown) => e as { code?: string });
      expect(err?.code).toBe('LLMO1');
      expect((await c.query(`SELECT count(*)::int AS n FROM ${s}.llmo_events`)).rows[0]).toEqual({ n: 0 });
      expect((await c.query(`SELECT count(*)::int AS n FROM ${s}.llmo_runs`)).rows[0]).toEqual({ n: 1 });
      await c.query(fastQuery(s, plan));
      // The same batch again, as after an unknown outcome: the fast statement refuses it, the full path takes it as written.
      expect(['LLMO1', '23505']).toContain(await c.query(fastQuery(s, plan)).then(() => 'written twice', (e: unknown) => (e as { code?: string }).code));
      await c.query('BEGIN');
      await writeBatch(c as unknown as pg.PoolClient, s, batch);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    const again = await open(schema);
    try {
      expect((await again.history('new')).map((e) => e.seq)).toEqual([0, 1]);
      expect((await again.history('old')).map((e) => e.seq)).toEqual([0, 1, 2]);
      expect(await again.getRun('new')).toMatchObject({ status: 'running', lastSeq: 1, updatedAt: 11, leaseOwner: 'o', leaseUntil: 7, input: { q: 1 } });
      const old = await again.getRun('old');
      expect(old).toMatchObject({ status: 'completed', lastSeq: 2, updatedAt: 20, output: 'done' });
      expect(old?.leaseOwner).toBeUndefined();
    } finally {
      await again.close();
    }
  });

  it('whole histories asked together come back each with its own events; an unknown run fails alone', async () => {
    const store = await open();
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `h${i}`);
      await Promise.all(ids.map((runId, i) => store.createRun({ runId, topology: 't', version: 'v', input: i, createdAt: i, owner: 'o', leaseMs: 1 })));
      await Promise.all(ids.map((runId, i) => store.append(Array.from({ length: i % 4 }, (_, seq) => ({ runId, seq, ts: seq, type: 'node.started', nodeId: `n${seq}` })))));
      const asked = [...ids, 'ghost', 'h3'].map((id) => store.history(id).then((h) => h.map((e) => `${e.runId}:${e.seq}`), (e: unknown) => (isStoreError(e) ? e.code : String(e))));
      const got = await Promise.all(asked);
      ids.forEach((id, i) => expect(got[i]).toEqual(Array.from({ length: i % 4 }, (_, seq) => `${id}:${seq}`)));
      expect(got[40]).toBe('RUN_NOT_FOUND');
      expect(got[41]).toEqual(['h3:0', 'h3:1', 'h3:2']);
    } finally {
      await store.close();
    }
  });

  it('a NUL (U+0000), which PostgreSQL text cannot hold, is STORE_INVALID naming it, not a failure of the database', async () => {
    const store = await open();
    try {
      const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (isStoreError(e) ? `${e.code}${e.message.includes('U+0000') ? ' (names it)' : ''}` : String(e)));
      expect(await code(store.listRuns({ topology: 'a\u0000b' }))).toBe('STORE_INVALID (names it)');
      expect(await code(store.getRun('r\u0000'))).toBe('STORE_INVALID (names it)');
      expect(await code(store.listRuns({ topology: 'fine' }))).toBe('ok');
    } finally {
      await store.close();
    }
  });

  it('histories of claimed runs are read ahead, handed out once, and never stale after a write through the store', async () => {
    const store = await open();
    try {
      const ids = Array.from({ length: 30 }, (_, i) => `c${String(i).padStart(2, '0')}`);
      await Promise.all(ids.map((runId, i) => store.createRun({ runId, topology: 't', version: 'v', input: i, createdAt: i, owner: 'gone', leaseMs: 0 })));
      await Promise.all(ids.map((runId) => store.append([{ runId, seq: 0, ts: 1, type: 'run.started' }, { runId, seq: 1, ts: 2, type: 'node.started', nodeId: 'a' }])));
      const claimed = await store.claim({ owner: 'me', leaseMs: 60_000, limit: 100, now: 100 });
      expect(claimed.map((r) => r.runId)).toEqual(ids);
      // Written after the claim: what was read ahead for c00 must not be handed out.
      await store.append([{ runId: 'c00', seq: 2, ts: 3, type: 'node.completed', nodeId: 'a', output: 1 }]);
      const seqs = await Promise.all(ids.map(async (id) => (await store.history(id)).map((e) => e.seq)));
      expect(seqs[0]).toEqual([0, 1, 2]);
      for (const got of seqs.slice(1)) expect(got).toEqual([0, 1]);
      // Asked again: read again (each read-ahead is handed out once).
      await store.append([{ runId: 'c01', seq: 2, ts: 3, type: 'node.completed', nodeId: 'a', output: 1 }]);
      expect((await store.history('c01')).map((e) => e.seq)).toEqual([0, 1, 2]);
    } finally {
      await store.close();
    }
  });

  it('openStore: a postgres:// URL with ?schema= keeps its tables in that schema', async () => {
    const schema = freshSchema();
    const target = new URL(url);
    target.searchParams.set('schema', schema);
    const store = await openStore(target.href);
    try {
      await store.createRun({ runId: 'r1', topology: 't', version: 'v1', input: null, createdAt: 1, owner: 'o', leaseMs: 1000 });
      const n = await admin(async (c) => (await c.query(`SELECT count(*)::int AS n FROM "${schema}".llmo_runs`)).rows[0] as { n: number });
      expect(n.n).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("the store's sessions run with JIT off unless `jit: true` (the server's setting)", async () => {
    // What the store's own connection sees, recorded by a trigger on its runs table.
    const seen = async (options: { jit?: boolean }): Promise<string> => {
      const schema = freshSchema();
      schemas.add(schema);
      const first = await createPostgresStore({ url, schema });
      await first.close();
      await admin(async (c) => {
        await c.query(`CREATE TABLE "${schema}".seen (jit text)`);
        await c.query(`CREATE FUNCTION "${schema}".note_jit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO "${schema}".seen VALUES (current_setting('jit')); RETURN NEW; END $$`);
        await c.query(`CREATE TRIGGER note_jit BEFORE INSERT ON "${schema}".llmo_runs FOR EACH ROW EXECUTE FUNCTION "${schema}".note_jit()`);
      });
      const store = await createPostgresStore({ url, schema, ...(options.jit === undefined ? {} : { jit: options.jit }) });
      try {
        await store.createRun({ runId: 'r1', topology: 't', version: 'v1', input: null, createdAt: 1, owner: 'o', leaseMs: 1000 });
      } finally {
        await store.close();
      }
      return admin(async (c) => (await c.query<{ jit: string }>(`SELECT jit FROM "${schema}".seen`)).rows.map((r) => r.jit).join(','));
    };
    const server = await admin(async (c) => (await c.query<{ jit: string }>('SHOW jit')).rows[0]!.jit);
    expect(await seen({})).toBe('off');
    expect(server).toBe('on'); // PostgreSQL's default, so `off` above is the store's doing
    expect(await seen({ jit: true })).toBe('on');
  });

  it('a wrong password is STORE_INVALID, not retried', async () => {
    const bad = new URL(url);
    bad.password = 'wrong-password';
    const err = await createPostgresStore({ url: bad.toString(), retryMs: 60_000 }).then(() => undefined, (e: unknown) => e);
    expect(isStoreError(err) && [err.code, err.retriable]).toEqual(['STORE_INVALID', false]);
  });
});

// A private server (own PG_HOME and port): stopping it disturbs no other test or engineer.
const canRunLocal = url !== '' && (await pgScript('status', { PG_HOME: path.join(tmpdir(), 'llmo-pg-probe-none') }).then((r) => !/not found/.test(r.stderr), () => false));

describe.skipIf(!canRunLocal)('PostgreSQL store: a server restart mid-load (private instance)', () => {
  it('appends in flight succeed after a retry or fail STORE_UNAVAILABLE; nothing acknowledged is lost; writes go on after', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'llmo-pg-'));
    const env = { PG_HOME: home, PG_PORT: String(await freePort()) };
    try {
      const started = await pgScript('start', env);
      const privateUrl = urlOf(started.stdout);
      expect(started.code, started.stderr).toBe(0);
      if (privateUrl === undefined) throw new Error('no URL');
      const warnings: string[] = [];
      const logger = { child: () => logger, error: () => undefined, info: () => undefined, debug: () => undefined, warn: (o: object | string, m?: string) => void warnings.push(m ?? String(o)) };
      const store = await createPostgresStore({ url: privateUrl, schema: 'restart', retryMs: 30_000, pool: { max: 4 }, logger });
      const RUNS = 8;
      const T0 = 1_700_000_000_000;
      for (let r = 0; r < RUNS; r++) await store.createRun({ runId: `w${r}`, topology: 't', version: 'v', input: r, createdAt: T0, owner: 'me', leaseMs: 60_000 });

      const acked = new Map<string, StoredEvent[]>();
      const failures: string[] = [];
      let phase: 'before' | 'down' | 'after' = 'before';
      const ackedAfter = { n: 0 };
      let stop = false;
      const writer = async (runId: string): Promise<void> => {
        let seq = 0;
        const mine: StoredEvent[] = [];
        acked.set(runId, mine);
        while (!stop) {
          const e: StoredEvent = { runId, seq, ts: T0 + seq, type: 'node.completed', nodeId: `n${seq}`, output: { seq, text: 'x'.repeat(200) } };
          try {
            await store.append([e]);
            mine.push(e);
            seq++;
            if (phase === 'after') ackedAfter.n++;
          } catch (err) {
            // Unknown whether it landed: a failure must be STORE_UNAVAILABLE; resume from what the store holds.
            failures.push(isStoreError(err) ? err.code : String(err));
            for (;;) {
              const row = await store.getRun(runId).catch(() => undefined);
              if (row !== undefined) {
                seq = row.lastSeq + 1;
                break;
              }
              await new Promise((r) => setTimeout(r, 200));
            }
          }
        }
      };
      const writers = Array.from({ length: RUNS }, (_, r) => writer(`w${r}`));
      const until = async (cond: () => boolean): Promise<void> => {
        while (!cond()) await new Promise((r) => setTimeout(r, 20));
      };
      const total = (): number => [...acked.values()].reduce((s, a) => s + a.length, 0);
      await until(() => total() >= 200);
      phase = 'down';
      const stopped = await pgScript('stop', env);
      expect(stopped.code, stopped.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      const restarted = await pgScript('start', env);
      expect(restarted.code, restarted.stderr).toBe(0);
      phase = 'after';
      await until(() => ackedAfter.n >= 200);
      stop = true;
      await Promise.all(writers);

      expect(failures.every((c) => c === 'STORE_UNAVAILABLE')).toBe(true);
      // the restart did hit writes in flight: they were retried on new connections
      expect(warnings.some((m) => /unavailable; retrying/.test(m))).toBe(true);
      for (const [runId, mine] of acked) {
        const history = await store.history(runId);
        // every acknowledged event is there, as sent; the log has no gap and no duplicate
        expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i));
        const bySeq = new Map(history.map((e) => [e.seq, e]));
        for (const e of mine) expect(bySeq.get(e.seq)).toEqual(e);
        expect((await store.getRun(runId))?.lastSeq).toBe(history.length - 1);
      }
      await store.close();
    } finally {
      await pgScript('stop', env);
      rmSync(home, { recursive: true, force: true });
    }
  });
});
