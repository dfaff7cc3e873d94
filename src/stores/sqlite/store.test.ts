import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isStoreError, isValidationError } from '../../errors.ts';
import type { RunStore } from '../../runtime/store.ts';
import { describeRunStore } from '../../../test/stores/conformance.ts';
import { nativeBinding, openSqlite, tempDir } from '../../../test/stores/support.ts';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from './schema.ts';

const tmp = tempDir('sqlite-unit');
afterAll(() => tmp.remove());
let n = 0;
const fresh = (): string => tmp.file(`s${n++}.db`);

describeRunStore('sqlite', async () => openSqlite({ path: fresh() }), undefined, {
  reopen: async (closed) => openSqlite({ path: closed.location }),
});

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'no error';
  } catch (e) {
    return isStoreError(e) ? e.code : `not a StoreError: ${String(e)}`;
  }
};
const codeOf2 = async (p: Promise<unknown>): Promise<string> => p.then(() => 'no error', (e: unknown) => (isStoreError(e) ? e.code : `not a StoreError: ${String(e)}`));
const raw = (path: string): Database.Database => new Database(path, nativeBinding === undefined ? {} : { nativeBinding });
const run = (runId: string) => ({ runId, topology: 't', version: 'v', input: { x: 1 }, createdAt: 1, owner: 'o', leaseMs: 1000 });

/** A closed, valid store file with a few runs, big enough to span many pages. */
async function validFile(): Promise<string> {
  const path = fresh();
  const s = openSqlite({ path });
  for (let i = 0; i < 20; i++) {
    await s.createRun(run(`r${i}`));
    await s.append([{ runId: `r${i}`, seq: 0, ts: 1, type: 'run.started', blob: 'x'.repeat(3000) }]);
  }
  await s.close();
  expect(existsSync(`${path}-wal`)).toBe(false); // the last close checkpointed the log into the file
  return path;
}

describe('createSqliteStore: files it refuses, untouched', () => {
  it('a file of garbage bytes is STORE_CORRUPT and stays as it was', () => {
    const path = fresh();
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(path, garbage);
    expect(codeOf(() => openSqlite({ path }))).toBe('STORE_CORRUPT');
    expect(readFileSync(path).equals(garbage)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('a valid file truncated mid-page, or at a page boundary, is STORE_CORRUPT and stays as it was', async () => {
    for (const cut of [(size: number) => size - 1000, (size: number) => size - 4096 * 3]) {
      const path = await validFile();
      const size = readFileSync(path).length;
      truncateSync(path, cut(size));
      const before = readFileSync(path);
      expect(codeOf(() => openSqlite({ path }))).toBe('STORE_CORRUPT');
      expect(readFileSync(path).equals(before)).toBe(true);
    }
  });

  it('a header page that SQLite itself finds malformed is STORE_CORRUPT', async () => {
    const path = await validFile();
    const bytes = readFileSync(path);
    bytes.fill(0xff, 100, 4096); // page 1's b-tree (the schema) destroyed, header intact
    writeFileSync(path, bytes);
    expect(codeOf(() => openSqlite({ path }))).toBe('STORE_CORRUPT');
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('a file from a newer schema version is STORE_TOO_NEW naming both versions', async () => {
    const path = await validFile();
    const db = raw(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    const before = readFileSync(path);
    let message = '';
    try {
      openSqlite({ path });
    } catch (e) {
      expect(isStoreError(e) && e.code).toBe('STORE_TOO_NEW');
      message = (e as Error).message;
    }
    expect(message).toContain(`schema version ${SCHEMA_VERSION + 5}`);
    expect(message).toContain(`this build's ${SCHEMA_VERSION}`);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("another application's SQLite database is refused, not written into", () => {
    const path = fresh();
    const db = raw(path);
    db.exec('CREATE TABLE notes (body TEXT)');
    db.close();
    const before = readFileSync(path);
    expect(codeOf(() => openSqlite({ path }))).toBe('STORE_CORRUPT');
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('a directory or a path in a missing directory is STORE_INVALID', () => {
    expect(codeOf(() => openSqlite({ path: tmp.dir }))).toBe('STORE_INVALID');
    expect(codeOf(() => openSqlite({ path: tmp.file('missing/dir/x.db') }))).toBe('STORE_INVALID');
  });

  it('invalid options are OPTIONS_INVALID naming the field', () => {
    try {
      openSqlite({ path: fresh(), durability: 'sometimes' as 'power' });
      expect.unreachable();
    } catch (e) {
      expect(isValidationError(e) && e.issues[0]?.path).toEqual(['options', 'durability']);
    }
  });
});

describe('createSqliteStore: schema and faults', () => {
  it('one row per run per commit, its body without the fields kept in columns; history ranges, lastSeq and updatedAt see every event', async () => {
    const path = fresh();
    const s = openSqlite({ path });
    await s.createRun(run('r'));
    const events = [
      { runId: 'r', seq: 0, ts: 5, type: 'run.started', topology: 't', priority: 'normal' },
      { runId: 'r', seq: 1, ts: 6, type: 'node.started', nodeId: 'a' },
      { runId: 'r', seq: 2, ts: 7, type: 'node.completed', nodeId: 'a', output: { text: 'hi "there"' } },
    ];
    await s.append(events.slice(0, 1));
    await s.append(events.slice(1));
    const db = raw(path);
    expect(db.prepare('SELECT seq, end_seq, ts, type, node_id, body FROM events ORDER BY seq').raw().all()).toEqual([
      [0, null, 5, 'run.started', null, '{"topology":"t","priority":"normal"}'],
      [1, 2, 7, 'node.started', 'a', '[{"ts":6,"type":"node.started","nodeId":"a"},{"ts":7,"type":"node.completed","nodeId":"a","output":{"text":"hi \\"there\\""}}]'],
    ]);
    // node events leave the run's row as it was; readers see them through the events
    expect(db.prepare('SELECT last_seq, updated_at FROM runs').raw().get()).toEqual([0, 5]);
    db.close();
    expect(await s.history('r')).toEqual(events);
    expect(await s.history('r', { fromSeq: 2 })).toEqual([events[2]]);
    expect(await s.history('r', { toSeq: 1 })).toEqual(events.slice(0, 2));
    expect(await s.history('r', { fromSeq: 1, toSeq: 1 })).toEqual([events[1]]);
    expect(await s.history('r', { untilTs: 6 })).toEqual(events.slice(0, 2));
    expect(await s.getRun('r')).toMatchObject({ lastSeq: 2, updatedAt: 7, status: 'running' });
    expect((await s.listRuns()).runs[0]).toMatchObject({ lastSeq: 2, updatedAt: 7 });
    expect(await codeOf2(s.append([{ runId: 'r', seq: 2, ts: 8, type: 'node.started', nodeId: 'b' }]))).toBe('SEQ_CONFLICT');
    await s.append([{ runId: 'r', seq: 3, ts: 8, type: 'run.completed', output: 1 }]);
    expect(await s.getRun('r')).toMatchObject({ lastSeq: 3, updatedAt: 8, status: 'completed', output: 1 });
    await s.close();
  });

  it('two stores on one file: each appends where the run stands; two appends from the same seq are one SEQ_CONFLICT, the log stays whole', async () => {
    const path = fresh();
    const a = openSqlite({ path });
    const b = openSqlite({ path });
    await a.createRun(run('r'));
    await a.append([{ runId: 'r', seq: 0, ts: 1, type: 'run.started' }]);
    await b.append([{ runId: 'r', seq: 1, ts: 2, type: 'node.started', nodeId: 'x' }, { runId: 'r', seq: 2, ts: 3, type: 'node.completed', nodeId: 'x', output: 1 }]);
    await a.append([{ runId: 'r', seq: 3, ts: 4, type: 'node.started', nodeId: 'y' }]); // a knew seq 0 only: it reads where the run stands
    // both follow on from seq 3 (a lease lost): the later commit is refused, whatever its length
    await b.append([{ runId: 'r', seq: 4, ts: 5, type: 'node.completed', nodeId: 'y', output: 2 }, { runId: 'r', seq: 5, ts: 6, type: 'node.started', nodeId: 'z' }]);
    expect(await codeOf2(a.append([{ runId: 'r', seq: 4, ts: 5, type: 'node.failed', nodeId: 'y' }]))).toBe('SEQ_CONFLICT');
    expect((await a.history('r')).map((e) => `${e.seq}:${e.type}`)).toEqual(['0:run.started', '1:node.started', '2:node.completed', '3:node.started', '4:node.completed', '5:node.started']);
    expect((await a.getRun('r'))?.lastSeq).toBe(5);
    await a.close();
    await b.close();
  });

  it('a version 1 file (whole bodies, keyed by run id) is migrated and reads the same; an older build then refuses it', async () => {
    const path = fresh();
    const db = raw(path);
    db.exec(MIGRATIONS[0]!.sql);
    const events = [
      { runId: 'r', seq: 0, ts: 5, type: 'run.started', topology: 't', priority: 'normal' },
      { runId: 'r', seq: 1, ts: 6, type: 'node.completed', nodeId: 'a', output: { text: 'hi' } },
    ];
    db.prepare(`INSERT INTO runs (run_id, topology, version, status, input, created_at, updated_at, last_seq, lease_owner, lease_until)
      VALUES ('r', 't', 'v', 'running', '{"x":1}', 1, 6, 1, 'o', 1001)`).run();
    const put = db.prepare('INSERT INTO events (run_id, seq, ts, type, node_id, body) VALUES (?, ?, ?, ?, ?, ?)');
    for (const e of events) put.run(e.runId, e.seq, e.ts, e.type, e.nodeId ?? null, JSON.stringify(e));
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma('user_version = 1');
    db.close();
    const again = openSqlite({ path });
    expect(await again.history('r')).toEqual(events);
    expect(await again.history('r', { fromSeq: 1 })).toEqual([events[1]]);
    expect(await again.getRun('r')).toMatchObject({ input: { x: 1 }, lastSeq: 1, updatedAt: 6, leaseOwner: 'o' });
    await again.append([{ runId: 'r', seq: 2, ts: 7, type: 'run.completed', output: 2 }]);
    expect(await again.getRun('r')).toMatchObject({ status: 'completed', output: 2, lastSeq: 2 });
    await again.close();
    const after = raw(path);
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    after.close();
  });

  it('a new file gets the current schema version, WAL and the store application id; reopening keeps data', async () => {
    const path = fresh();
    const s = openSqlite({ path, durability: 'power' });
    await s.createRun(run('r'));
    const db = raw(path);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    await s.close();
    const again = openSqlite({ path });
    expect((await again.getRun('r'))?.input).toEqual({ x: 1 });
    await again.close();
  });

  it('a full file (maxSizeBytes, i.e. max_page_count) is STORE_FULL for the write that does not fit; earlier writes stay, smaller ones still fit', async () => {
    const path = fresh();
    const s = openSqlite({ path, maxSizeBytes: 64 * 4096 });
    await s.createRun(run('r'));
    await s.append([{ runId: 'r', seq: 0, ts: 1, type: 'run.started' }]);
    const tooBig = s.append([{ runId: 'r', seq: 1, ts: 2, type: 'node.completed', nodeId: 'n', output: 'y'.repeat(400_000) }]);
    const small = s.append([{ runId: 'r', seq: 1, ts: 2, type: 'node.completed', nodeId: 'n', output: 'ok' }]);
    const [big, ok] = await Promise.allSettled([tooBig, small]);
    expect(big?.status === 'rejected' && isStoreError(big.reason) && big.reason.code).toBe('STORE_FULL');
    expect(ok?.status).toBe('fulfilled');
    expect((await s.history('r')).map((e) => e.seq)).toEqual([0, 1]);
    expect((await s.history('r'))[1]?.['output']).toBe('ok');
    await s.close();
  });

  it('a write lock held by another connection past busyTimeoutMs is STORE_UNAVAILABLE (retriable), then works once free', async () => {
    const path = fresh();
    const s: RunStore = openSqlite({ path, busyTimeoutMs: 50 });
    await s.createRun(run('r'));
    const other = raw(path);
    other.exec('BEGIN IMMEDIATE');
    const e: unknown = await s.claim({ owner: 'p', leaseMs: 10, limit: 1, now: 5000 }).catch((x: unknown) => x);
    expect(isStoreError(e) && e.code).toBe('STORE_UNAVAILABLE');
    expect(isStoreError(e) && e.retriable).toBe(true);
    other.exec('COMMIT');
    other.close();
    expect((await s.claim({ owner: 'p', leaseMs: 10, limit: 1, now: 5000 })).length).toBe(1);
    await s.close();
  });

  it('every write made in one tick commits in one transaction', async () => {
    const path = fresh();
    const s = openSqlite({ path });
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.createRun(run(`r${i}`))));
    const db = raw(path);
    const before = db.pragma('data_version', { simple: true }) as number;
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.append([{ runId: `r${i}`, seq: 0, ts: 1, type: 'run.started' }])));
    // data_version changes once per commit made by another connection
    expect((db.pragma('data_version', { simple: true }) as number) - before).toBe(1);
    db.close();
    await s.close();
  });
});
